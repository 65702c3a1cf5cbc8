package isula

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gokmod/modprobe"
)

// FuzzEnv checks ParseEnv against iSulad's grammar read literally: the
// first entry whose text before the first '=' is KERNEL_MODULES, its value
// up to a second '=', split on ',' with empty items dropped; every item
// valid, or the first invalid one named.
func FuzzEnv(f *testing.F) {
	for _, tc := range envCases {
		f.Add(strings.Join(tc.env, "\n"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		env := strings.Split(s, "\n")
		got, err := ParseEnv(env)
		var value string
		index, found := -1, false
		for i, e := range env {
			parts := strings.Split(e, "=")
			if strings.Contains(e, EnvKey+"=") && parts[0] == EnvKey {
				index, found, value = i, true, parts[1]
				break
			}
		}
		var items []string
		for _, it := range strings.Split(value, ",") {
			if it != "" {
				items = append(items, it)
			}
		}
		if err != nil {
			var ee *EnvError
			if !found || !errors.As(err, &ee) || ee.Index != index || !errors.Is(err, modprobe.ErrBadName) {
				t.Fatalf("ParseEnv(%q): %v", env, err)
			}
			for _, it := range items {
				if it == ee.Item {
					return
				}
				if !ValidName(it) {
					t.Fatalf("ParseEnv(%q) named %q, not the first bad item %q", env, ee.Item, it)
				}
			}
			t.Fatalf("ParseEnv(%q) named %q, which is not an item", env, ee.Item)
		}
		if got.Found != found || (found && got.Index != index) || len(got.Requests) != len(items) {
			t.Fatalf("ParseEnv(%q) = %+v; want found %v at %d, items %q", env, got, found, index, items)
		}
		for i, r := range got.Requests {
			if r.Name != items[i] || !ValidName(r.Name) || strings.HasPrefix(r.Name, "-") {
				t.Fatalf("ParseEnv(%q) = %+v; want items %q", env, got, items)
			}
		}
	})
}

// FuzzState checks the hook's inputs: a state or an environment, or an
// error wrapping ErrBadState that says where, as "LINE:COL:" inside the
// input; an accepted state has an absolute bundle; a config.json
// encoding/json reads as a runtime spec is accepted with the process.env
// it reads, one that is not JSON is refused, and an accepted environment
// goes through ParseEnv.
func FuzzState(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","pid":17781,"bundle":"/run/c1"}`))
	f.Add([]byte(`{"process":{"env":["KERNEL_MODULES=a"]}}`))
	f.Add([]byte("{\"process\":{\"env\":[\"PATH=/bin\",\"KERNEL_MODULES=a,,b=c\"]}}\n\t "))
	f.Add([]byte("{\"process\":\n{\"env\": 7}}"))
	f.Add([]byte(`{"bundle":"run/c1"} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPos := func(err error) {
			t.Helper()
			m := regexp.MustCompile(`:([0-9]+):([0-9]+): `).FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error %q says no position", err)
			}
			line, _ := strconv.Atoi(m[1])
			col, _ := strconv.Atoi(m[2])
			lines := bytes.Split(data, []byte("\n"))
			if line < 1 || line > len(lines) || col < 1 || col > len(lines[line-1])+1 {
				t.Fatalf("error %q: position outside the input (%d lines)", err, len(lines))
			}
		}
		if st, err := ParseState(data); err == nil && !strings.HasPrefix(st.Bundle, "/") {
			t.Fatalf("ParseState accepted bundle %q", st.Bundle)
		} else if err != nil && !errors.Is(err, ErrBadState) {
			t.Fatalf("ParseState: %v", err)
		}
		env, err := ParseSpecEnv(data, "config.json")
		// encoding/json decoding the whole runtime spec: what it
		// accepts, ParseSpecEnv accepts, with the same environment;
		// ParseSpecEnv decodes process.env only, so it accepts
		// more (another member of the wrong type) but never what is
		// not JSON.
		var spec specs.Spec
		jerr := json.Unmarshal(data, &spec)
		if err != nil {
			if !errors.Is(err, ErrBadState) || !strings.HasPrefix(err.Error(), "config.json:") {
				t.Fatalf("ParseSpecEnv: %v", err)
			}
			if jerr == nil {
				t.Fatalf("ParseSpecEnv refused a spec encoding/json reads: %v", err)
			}
			checkPos(err)
			return
		}
		if !json.Valid(data) {
			t.Fatal("ParseSpecEnv accepted what is not JSON")
		}
		var want []string
		if jerr == nil && spec.Process != nil {
			want = spec.Process.Env
		}
		if jerr == nil && !slices.Equal(env, want) {
			t.Fatalf("ParseSpecEnv = %q, encoding/json reads %q", env, want)
		}
		if got, err := ParseEnv(env); err != nil {
			var ee *EnvError
			if !errors.As(err, &ee) || ee.Index < 0 || ee.Index >= len(env) {
				t.Fatalf("ParseEnv(%q): %v", env, err)
			}
		} else if got.Found && (got.Index < 0 || got.Index >= len(env)) {
			t.Fatalf("ParseEnv(%q) = %+v", env, got)
		}
	})
}
