package fileio

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestMkdirP(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(dir, "a", "b//c")
	if err := MkdirP(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(deep); err != nil || !st.IsDir() || st.Mode().Perm()&^0o022 != 0o755 {
		t.Errorf("%s: %v, %v", deep, st, err)
	}
	if err := MkdirP(deep, 0o755); err != nil {
		t.Errorf("an existing directory: %v", err)
	}
	for _, c := range []struct {
		path  string
		shown syscall.Errno
	}{
		{file, 0}, // the path itself is a file: no errno set
		{filepath.Join(file, "x"), syscall.ENOTDIR}, // below a file: stat's ENOTDIR
		{filepath.Join(file, "x", "y"), syscall.ENOTDIR},
	} {
		err := MkdirP(c.path, 0o755)
		var me *MkdirError
		if !errors.As(err, &me) || !errors.Is(err, syscall.ENOTDIR) || me.Shown != c.shown || me.Path != c.path {
			t.Errorf("MkdirP(%s) = %#v, want ENOTDIR showing %v", c.path, err, c.shown)
		}
	}
}
