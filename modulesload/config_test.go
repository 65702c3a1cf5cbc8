package modulesload

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, path)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func names(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func TestReadPrecedence(t *testing.T) {
	root := t.TempDir()
	write(t, root, "proc/cmdline", `quiet modules-load=cmd1,cmd2 rd.modules_load=initrd1 "modules_load=q1,q2" modules_load=`+"\n")
	write(t, root, "etc/modules-load.d/b.conf", "# comment\n; comment\n\n  etc_b  \n")
	write(t, root, "usr/lib/modules-load.d/b.conf", "usr_b\n")      // overridden by /etc's
	write(t, root, "usr/lib/modules-load.d/a.conf", "usr_a\r\n")    // sorted before b
	write(t, root, "run/modules-load.d/c.conf", "run_c\nalias:x\n") // names are taken as they are
	write(t, root, "usr/local/lib/modules-load.d/c.conf", "local_c\n")
	write(t, root, "usr/lib/modules-load.d/d.conf", "masked\n")
	write(t, root, "usr/lib/modules-load.d/e.txt", "not_conf\n")
	write(t, root, "lib/modules-load.d/f.conf", "split_usr\n")
	require.NoError(t, os.Symlink("/dev/null", filepath.Join(root, "etc/modules-load.d/d.conf")))

	es, warns, err := Read(Options{Root: root})
	require.NoError(t, err)
	assert.Empty(t, warns)
	assert.Equal(t, []string{"cmd1", "cmd2", "q1", "q2", "usr_a", "etc_b", "run_c", "alias:x"}, names(es))
	assert.Equal(t, "kernel command line", es[0].Source())
	assert.Equal(t, filepath.Join(root, "etc/modules-load.d/b.conf")+":4", es[5].Source())

	es, _, err = Read(Options{Root: root, InInitrd: true, SplitUsr: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"cmd1", "cmd2", "initrd1", "q1", "q2", "usr_a", "etc_b", "run_c", "alias:x", "split_usr"}, names(es))
}

func TestReadFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, "proc/cmdline", "modules_load=ignored\n")
	write(t, root, "usr/lib/modules-load.d/x.conf", "from_usr\n")
	write(t, root, "etc/modules-load.d/x.conf", "from_etc\n")
	write(t, root, "tmp/abs.conf", "abs\n")
	es, _, err := Read(Options{Root: root, Files: []string{"x.conf", "/tmp/abs.conf"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"from_etc", "abs"}, names(es), "a name is searched in the directories; the command line is not read")

	_, _, err = Read(Options{Root: root, Files: []string{"missing.conf"}})
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "missing.conf")

	fifo := filepath.Join(root, "etc/modules-load.d/fifo.conf")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, _, err = Read(Options{Root: root, Files: []string{fifo[len(root):]}})
	require.ErrorIs(t, err, ErrConfig, "a FIFO is refused without waiting")
	_, warns, err := Read(Options{Root: root})
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].Error(), "fifo.conf")

	write(t, root, "etc/modules-load.d/big.conf", string(make([]byte, MaxFileSize+1)))
	_, _, err = Read(Options{Root: root, Files: []string{"big.conf"}})
	require.ErrorIs(t, err, ErrConfig)
}

func TestSplitCmdline(t *testing.T) {
	assert.Equal(t, []string{"a", "b c", "d'e", `f"g`, "h i", "x\\"}, splitCmdline(` a "b c" "d'e" 'f"g' h\ i x\\`))
	assert.Equal(t, []string{"m1", "m2"}, cmdlineModules("modules_load=m1,,m2, rd.modules_load=no", false))
	assert.Nil(t, cmdlineModules("modules_loadx=a modules_load", false))
}
