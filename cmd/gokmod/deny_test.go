package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
