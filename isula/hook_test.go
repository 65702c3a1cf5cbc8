package isula

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseState(t *testing.T) {
	// The state runc 1.1 writes to a prestart hook.
	st, err := ParseState([]byte(`{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","pid":17781,"bundle":"/run/c1"}`))
	if err != nil || st.Bundle != "/run/c1" || st.ID != "c1" || st.Pid != 17781 {
		t.Fatalf("ParseState: %+v, %v", st, err)
	}
	bad := []struct{ in, has string }{
		{"", "state:1:1: malformed OCI input: no JSON value"},
		{`{"bundle":"/b"} x`, "state:1:17: malformed OCI input: data after the JSON value"},
		{"{", "state:1:2: malformed OCI input"},
		{`{"id":"c1"}`, "no bundle"},
		{`{"bundle":"rel/dir"}`, `bundle "rel/dir" is not an absolute path`},
		{`{"bundle":7}`, "state:1:12: malformed OCI input"},
		{"{\"bundle\":\"/b\"}\n{}", "data after the JSON value"},
		{"[1,2]", "malformed OCI input"},
		{"\n\n  {\"bundle\": \"/b\",, }", "state:3:19: malformed"},
	}
	for _, tc := range bad {
		_, err := ParseState([]byte(tc.in))
		if err == nil || !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), tc.has) {
			t.Errorf("ParseState(%q): %v; want ErrBadState with %q", tc.in, err, tc.has)
		}
	}
}

func TestParseSpecEnv(t *testing.T) {
	env, err := ParseSpecEnv([]byte(`{"ociVersion":"1.0.2","process":{"args":["sh"],"env":["PATH=/bin","KERNEL_MODULES=a"],"cwd":"/"}}`), "/b/config.json")
	if err != nil || !reflect.DeepEqual(env, []string{"PATH=/bin", "KERNEL_MODULES=a"}) {
		t.Fatalf("ParseSpecEnv: %q, %v", env, err)
	}
	env, err = ParseSpecEnv([]byte(`{"ociVersion":"1.0.2"}`), "/b/config.json")
	if err != nil || env != nil {
		t.Fatalf("no process: %q, %v", env, err)
	}
	_, err = ParseSpecEnv([]byte("{\n \"process\": {\"env\": \"KERNEL_MODULES=a\"}\n}"), "/b/config.json")
	if !errors.Is(err, ErrBadState) || !strings.HasPrefix(err.Error(), "/b/config.json:2:") {
		t.Fatalf("env of the wrong type: %v", err)
	}
	_, err = ParseSpecEnv([]byte("{\"process\": {}}}"), "/b/config.json")
	if !errors.Is(err, ErrBadState) || !strings.HasPrefix(err.Error(), "/b/config.json:1:") {
		t.Fatalf("trailing data: %v", err)
	}
}

// TestParseSpecEnvReadsEnvOnly: ParseSpecEnv decodes process.env only
// (see its comment): another member of the wrong type is let through,
// but a file that is not JSON, or a process that is not an object, is
// not.
func TestParseSpecEnvReadsEnvOnly(t *testing.T) {
	env, err := ParseSpecEnv([]byte(`{"hostname":7,"process":{"args":"sh","env":["KERNEL_MODULES=a"]}}`), "/b/config.json")
	if err != nil || !reflect.DeepEqual(env, []string{"KERNEL_MODULES=a"}) {
		t.Fatalf("other members of the wrong type: %q, %v", env, err)
	}
	for _, bad := range []string{`{"hostname":7,"process":{"env":["a"]}`, `{"process":["KERNEL_MODULES=a"]}`, `{"process":{"env":["a",1]}}`} {
		if _, err := ParseSpecEnv([]byte(bad), "/b/config.json"); !errors.Is(err, ErrBadState) || !strings.HasPrefix(err.Error(), "/b/config.json:1:") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
