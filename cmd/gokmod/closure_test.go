package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/modprobetest"
)

func TestClosureTool(t *testing.T) {
	root := t.TempDir()
	dir, err := modprobetest.WriteTree(root, "6.1.0-t",
		modprobetest.Module{Name: "base"},
		modprobetest.Module{Name: "top", Depends: []string{"base"}, Aliases: []string{"top-alias"}},
		modprobetest.Module{Name: "inside", Builtin: true},
	)
	require.NoError(t, err)
	args := []string{"-d", root, "-S", "6.1.0-t", "-C", filepath.Join(root, "none")}

	o := runOurs("closure", append(args, "top-alias", "inside"), nil)
	require.Equal(t, 0, o.Code, o)
	assert.Equal(t, dir+"/kernel/base.ko\n"+dir+"/kernel/top.ko\n", o.Stdout)
	assert.Empty(t, o.Stderr)

	o = runOurs("closure", append(args, "--json", "top"), nil)
	require.Equal(t, 0, o.Code, o)
	var doc struct {
		Files                []struct{ Path, Reason, Module string }
		Builtin, Blacklisted []string
	}
	require.NoError(t, json.Unmarshal([]byte(o.Stdout), &doc))
	require.Len(t, doc.Files, 2)
	assert.Equal(t, "dependency", doc.Files[0].Reason)
	assert.Equal(t, "requested", doc.Files[1].Reason)
	assert.NotNil(t, doc.Builtin)
	assert.Contains(t, o.Stdout, `"builtin": []`)

	o = runOurs("closure", append(args, "top", "no-such"), nil)
	assert.Equal(t, 1, o.Code, o)
	assert.Empty(t, o.Stdout)
	assert.Contains(t, o.Stderr, "no-such")

	o = runOurs("closure", args, nil)
	assert.Equal(t, 1, o.Code, o)
	assert.Contains(t, o.Stderr, "no module names")

	o = runOurs("closure", []string{"--bogus"}, nil)
	assert.Equal(t, 1, o.Code, o)
	assert.True(t, strings.Contains(o.Stderr, "bogus"), o)

	o = runOurs("closure", []string{"-h"}, nil)
	assert.Equal(t, 0, o.Code, o)
	assert.Contains(t, o.Stdout, "NAME...")
}
