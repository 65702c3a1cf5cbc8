package isula

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gokmod/modprobe"
)

// EnvKey is the environment variable that lists the modules.
const EnvKey = "KERNEL_MODULES"

// MaxModules is the most modules KERNEL_MODULES may name.
const MaxModules = 4096

// ErrTooMany: KERNEL_MODULES names more than MaxModules modules.
var ErrTooMany = errors.New("too many modules")

// Env is what ParseEnv found in a container's environment.
type Env struct {
	// Requests are the modules to load, in order, without parameters.
	Requests []modprobe.Request
	// Found reports whether the environment has a KERNEL_MODULES entry.
	Found bool
	// Index is that entry's position in the environment.
	Index int
	// Dropped is the text after a second "=" in the entry, which iSulad
	// ignores and so does ParseEnv; a caller should warn about it.
	Dropped string
}

// EnvError reports an item of KERNEL_MODULES that is not a module name.
type EnvError struct {
	Index int    // the entry's position in the environment
	Item  string // the offending item
	Err   error  // wraps modprobe.ErrBadName
}

// Error returns "process.env[N] KERNEL_MODULES: item "ITEM": ERR".
func (e *EnvError) Error() string {
	return fmt.Sprintf("process.env[%d] %s: item %q: %v", e.Index, EnvKey, e.Item, e.Err)
}

// Unwrap returns the cause, which wraps modprobe.ErrBadName.
func (e *EnvError) Unwrap() error { return e.Err }

// ParseEnv reads KERNEL_MODULES from a container's environment ("KEY=VALUE"
// entries, as in an OCI spec's process.env) with iSulad's grammar, but
// refusing names that start with "-". It does no I/O.
func ParseEnv(env []string) (Env, error) {
	for i, entry := range env {
		key, value, ok := strings.Cut(entry, "=")
		if !ok || key != EnvKey {
			continue
		}
		out := Env{Found: true, Index: i}
		value, out.Dropped, _ = strings.Cut(value, "=")
		for rest, more := value, true; more; {
			var item string
			item, rest, more = strings.Cut(rest, ",")
			if item == "" {
				continue
			}
			if len(out.Requests) == MaxModules {
				return Env{}, &EnvError{Index: i, Item: item, Err: fmt.Errorf("%w: more than %d modules", ErrTooMany, MaxModules)}
			}
			if err := checkName(item); err != nil {
				return Env{}, &EnvError{Index: i, Item: item, Err: err}
			}
			out.Requests = append(out.Requests, modprobe.Request{Name: item})
		}
		return out, nil
	}
	return Env{}, nil
}

// ValidName reports whether s may be loaded from KERNEL_MODULES: it
// matches ^[A-Za-z0-9_-]+$ and does not start with "-".
func ValidName(s string) bool { return checkName(s) == nil }

func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", modprobe.ErrBadName)
	}
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("%w: starts with '-'", modprobe.ErrBadName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: want letters, digits, '_' and '-' only", modprobe.ErrBadName)
		}
	}
	return nil
}
