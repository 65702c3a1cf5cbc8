package isula

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrBadState: the hook's state, or the bundle's config.json, is not what
// the OCI runtime specification says it is.
var ErrBadState = errors.New("malformed OCI input")

// MaxInputSize is the largest state or config.json ParseState and
// ParseSpecEnv accept, and what a hook should read of either at most:
// runtimes write a few kilobytes, and a config.json with a container's
// whole environment stays well under it.
const MaxInputSize = 16 << 20

// ParseState reads the container state an OCI runtime writes to a hook's
// standard input. The bundle must be an absolute path, as the runtime
// specification requires. A state over MaxInputSize is refused before it
// is decoded.
func ParseState(data []byte) (specs.State, error) {
	if err := checkSize(data); err != nil {
		return specs.State{}, fmt.Errorf("state: %w", err)
	}
	var st specs.State
	if err := decodeJSON(data, &st); err != nil {
		return specs.State{}, fmt.Errorf("state:%w", err)
	}
	if st.Bundle == "" {
		return specs.State{}, fmt.Errorf("state: %w: no bundle", ErrBadState)
	}
	if !filepath.IsAbs(st.Bundle) {
		return specs.State{}, fmt.Errorf("state: %w: bundle %q is not an absolute path", ErrBadState, st.Bundle)
	}
	return st, nil
}

// ConfigFile is the name of a bundle's configuration.
const ConfigFile = "config.json"

// ParseSpecEnv reads a bundle's config.json and returns its process.env
// (nil when the spec has no process); name, the file's path, is used in
// errors, with the line and column of a syntax error. The whole file must
// be JSON, and process and process.env of their types in the runtime
// specification; the other members are not decoded (the runtime that
// runs the hook has read them). A file over MaxInputSize is refused
// before it is decoded.
func ParseSpecEnv(data []byte, name string) ([]string, error) {
	if err := checkSize(data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Not specs.Spec: encoding/json prepares every type a struct
	// reaches, and Spec reaches hundreds, which cost the hook 0.6 ms,
	// a third of its run.
	var spec struct {
		Process *struct {
			Env []string `json:"env"`
		} `json:"process"`
	}
	if err := decodeJSON(data, &spec); err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	if spec.Process == nil {
		return nil, nil
	}
	return spec.Process.Env, nil
}

// checkSize refuses an input over MaxInputSize.
func checkSize(data []byte) error {
	if len(data) > MaxInputSize {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrBadState, len(data), MaxInputSize)
	}
	return nil
}

// decodeJSON decodes one JSON value, with nothing but space after it; a
// syntax or type error says where, as "LINE:COL: ERR".
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(v)
	if err == nil {
		off := dec.InputOffset()
		if rest := bytes.TrimLeft(data[off:], " \t\r\n"); len(rest) > 0 {
			off += int64(len(data[off:]) - len(rest))
			return fmt.Errorf("%s %w: data after the JSON value", position(data, off), ErrBadState)
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the offending byte.
		return fmt.Errorf("%s %w: %w", position(data, syn.Offset-1), ErrBadState, err)
	case errors.As(err, &typ):
		return fmt.Errorf("%s %w: %w", position(data, typ.Offset), ErrBadState, err)
	}
	if err == io.EOF {
		err = errors.New("no JSON value")
	}
	return fmt.Errorf("%s %w: %w", position(data, int64(len(data))), ErrBadState, err)
}

// position returns "LINE:COL:" of byte offset off in data, both from 1.
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("%d:%d:", line, col)
}
