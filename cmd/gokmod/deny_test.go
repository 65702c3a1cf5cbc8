package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDenyTools: GOKMOD_DENY stops modprobe, insmod and the adapters;
// --deny adds to it for the adapters.
func TestDenyTools(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	deny := map[string]string{"GOKMOD_DENY": "a, x"}

	o := runFakeEnv(k, deny, "modprobe", "-d", root, "c")
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, "modprobe: ERROR: module a is on the deny list: not loading c\n", o)
	assert.Contains(t, o.Stderr, "Operation not permitted", o)
	assert.Empty(t, k.Inserted(), "nothing of c's probe goes in")

	o = runFakeEnv(k, deny, "modprobe", "-d", root, "-a", "p", "x")
	assert.Equal(t, 1, o.Code, o)
	assert.Equal(t, []string{"p"}, k.Inserted())

	o = runFakeEnv(k, deny, "insmod", dir+"/kernel/x.ko")
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, "Operation not permitted", o)

	o = runFakeEnv(k, map[string]string{}, "modprobe", "-d", root, "c")
	assert.Equal(t, 0, o.Code, o)
	assert.Equal(t, []string{"p", "a", "b", "c"}, k.Inserted(), "without the list c loads")

	o = runFakeEnv(k, deny, "modprobe", "-d", root, "-n", "x")
	assert.Equal(t, 1, o.Code, o)
	assert.Empty(t, o.Stdout, "a dry run stops where a load would")

	// The adapters, with --deny from the hook's command line.
	o = runFakeIO(k, map[string]string{}, "", "kata", "-d", root, "--config", "/dev/null", "--annotation", "x", "--deny", "x,nothing")
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, "deny list", o)
	assert.NotContains(t, k.Inserted(), "x")
}

// TestDenyFile: the host's deny list file (GOKMOD_DENY_FILE here, else
// /etc/gokmod/deny.conf) adds to GOKMOD_DENY for modprobe, insmod and the
// adapters; a file that cannot be read stops them before anything loads.
func TestDenyFile(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	file := filepath.Join(t.TempDir(), "deny.conf")
	require.NoError(t, os.WriteFile(file, []byte("# policy\na # needed by b and c\n"), 0o644))
	env := map[string]string{"GOKMOD_DENY_FILE": file}

	o := runFakeEnv(k, env, "modprobe", "-d", root, "c")
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, "module a is on the deny list", o)
	o = runFakeEnv(k, env, "insmod", dir+"/kernel/a.ko")
	assert.Equal(t, 1, o.Code, o)
	o = runFakeEnv(k, map[string]string{"GOKMOD_DENY_FILE": file, "GOKMOD_DENY": "x"}, "modprobe", "-d", root, "-a", "x", "p")
	assert.Equal(t, 1, o.Code, o)
	o = runFakeIO(k, env, "", "kata", "-d", root, "--config", "/dev/null", "--annotation", "b")
	assert.Equal(t, 1, o.Code, o)
	assert.Equal(t, []string{"p"}, k.Inserted(), "only p, which neither list names")

	require.NoError(t, os.WriteFile(file, []byte("a\nbad/entry\n"), 0o644))
	for _, args := range [][]string{{"modprobe", "-d", root, "x"}, {"insmod", dir + "/kernel/x.ko"}} {
		o = runFakeEnv(k, env, args[0], args[1:]...)
		assert.Equal(t, 1, o.Code, o)
		assert.Contains(t, o.Stderr, file+":2:", o)
	}
	assert.Equal(t, []string{"p"}, k.Inserted(), "a bad file loads nothing")

	o = runFakeEnv(k, map[string]string{"GOKMOD_DENY_FILE": ""}, "modprobe", "-d", root, "c")
	assert.Equal(t, 0, o.Code, "an empty GOKMOD_DENY_FILE reads no file: %v", o)
}
