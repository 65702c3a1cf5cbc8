package isula

import (
	"errors"
	"strings"
	"testing"

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

// FuzzState checks that the hook's inputs give a result or ErrBadState,
// never a panic.
func FuzzState(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","pid":17781,"bundle":"/run/c1"}`))
	f.Add([]byte(`{"process":{"env":["KERNEL_MODULES=a"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if st, err := ParseState(data); err == nil && !strings.HasPrefix(st.Bundle, "/") {
			t.Fatalf("ParseState accepted bundle %q", st.Bundle)
		} else if err != nil && !errors.Is(err, ErrBadState) {
			t.Fatalf("ParseState: %v", err)
		}
		if _, err := ParseSpecEnv(data, "config.json"); err != nil && !errors.Is(err, ErrBadState) {
			t.Fatalf("ParseSpecEnv: %v", err)
		}
	})
}
