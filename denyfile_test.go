package modprobe_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
)

// TestReadDenyFile: entries, comments and separators; a missing file is
// no list; a bad entry, a FIFO, a directory and an oversized file are
// ErrDenyFile naming the file (and the line).
func TestReadDenyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}

	got, err := modprobe.ReadDenyFile(write("ok", "# the host's policy\nsctp dccp, rds # old protocols\n\n  snd_*\t cramfs\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"sctp", "dccp", "rds", "snd_*", "cramfs"}, got)

	got, err = modprobe.ReadDenyFile(filepath.Join(dir, "absent"))
	require.NoError(t, err)
	assert.Nil(t, got)

	bad := write("bad", "sctp\n\nnet/sctp.ko\n")
	_, err = modprobe.ReadDenyFile(bad)
	require.ErrorIs(t, err, modprobe.ErrDenyFile)
	assert.Contains(t, err.Error(), bad+":3:")

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, err = modprobe.ReadDenyFile(fifo) // returns at once: no writer is waited for
	require.ErrorIs(t, err, modprobe.ErrDenyFile)
	assert.Contains(t, err.Error(), fifo)

	_, err = modprobe.ReadDenyFile(dir)
	assert.ErrorIs(t, err, modprobe.ErrDenyFile)

	_, err = modprobe.ReadDenyFile(write("big", strings.Repeat("x\n", modprobe.MaxDenyFileSize/2+1)))
	assert.ErrorIs(t, err, modprobe.ErrDenyFile)
}
