package vmtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one parsed newc entry.
type cpioEntry struct {
	name       string
	mode       uint32
	data       string
	rdev       [2]uint32
	nlink, ino uint32
}

// readCPIO parses a newc archive up to its trailer, checking the layout
// the kernel relies on: magic, four-byte alignment, NUL-terminated names.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	for {
		if off%4 != 0 || off+110 > len(b) {
			t.Fatalf("header at %d: misaligned or truncated", off)
		}
		h := b[off : off+110]
		if string(h[:6]) != "070701" {
			t.Fatalf("header at %d: magic %q", off, h[:6])
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("header at %d field %d: %v", off, i, err)
			}
			return uint32(v)
		}
		namesize, size := int(field(11)), int(field(6))
		name := b[off+110 : off+110+namesize]
		if name[namesize-1] != 0 {
			t.Fatalf("name at %d not NUL-terminated", off)
		}
		dataOff := (off + 110 + namesize + 3) &^ 3
		e := cpioEntry{
			name:  string(name[:namesize-1]),
			ino:   field(0),
			mode:  field(1),
			nlink: field(4),
			data:  string(b[dataOff : dataOff+size]),
			rdev:  [2]uint32{field(9), field(10)},
		}
		if field(2) != 0 || field(3) != 0 {
			t.Errorf("%s: owner %d:%d, want root", e.name, field(2), field(3))
		}
		off = (dataOff + size + 3) &^ 3
		if e.name == cpioTrailer {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestCPIOWriter(t *testing.T) {
	host := filepath.Join(t.TempDir(), "host")
	if err := os.WriteFile(host, []byte("from the host!"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(host, 0o750); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c := NewCPIOWriter(&buf)
	steps := []error{
		c.WriteFile("/init", 0o755, []byte("#!/bin/sh\n")),
		c.Mkdir("/proc", 0o555),
		c.WriteFile("/lib/modules/r/a.ko", 0o644, []byte("abc")),
		c.CopyFile("/usr/bin/kmod", 0, host),
		c.Symlink("/sbin/modprobe", "/usr/bin/kmod"),
		c.CharDevice("/dev/console", 0o600, 5, 1),
		c.Mkdir("/lib", 0o700), // already there: no-op
		c.WriteFile("/empty", 0o600, nil),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := c.WriteFile("/init", 0o755, nil); err == nil {
		t.Error("writing /init twice succeeded")
	}
	if err := c.Mkdir("/init", 0o755); err == nil {
		t.Error("Mkdir over a file succeeded")
	}
	for _, bad := range []string{"/a/../b", "a//b", "/x/./y"} {
		if err := c.WriteFile(bad, 0o644, nil); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile("/late", 0o644, nil); err == nil {
		t.Error("write after Close succeeded")
	}

	got := readCPIO(t, buf.Bytes())
	want := []cpioEntry{
		{name: "init", mode: cpioRegular | 0o755, data: "#!/bin/sh\n", nlink: 1},
		{name: "proc", mode: cpioDir | 0o555, nlink: 2},
		{name: "lib", mode: cpioDir | 0o755, nlink: 2},
		{name: "lib/modules", mode: cpioDir | 0o755, nlink: 2},
		{name: "lib/modules/r", mode: cpioDir | 0o755, nlink: 2},
		{name: "lib/modules/r/a.ko", mode: cpioRegular | 0o644, data: "abc", nlink: 1},
		{name: "usr", mode: cpioDir | 0o755, nlink: 2},
		{name: "usr/bin", mode: cpioDir | 0o755, nlink: 2},
		{name: "usr/bin/kmod", mode: cpioRegular | 0o750, data: "from the host!", nlink: 1},
		{name: "sbin", mode: cpioDir | 0o755, nlink: 2},
		{name: "sbin/modprobe", mode: cpioSymlink | 0o777, data: "/usr/bin/kmod", nlink: 1},
		{name: "dev", mode: cpioDir | 0o755, nlink: 2},
		{name: "dev/console", mode: cpioChar | 0o600, rdev: [2]uint32{5, 1}, nlink: 1},
		{name: "empty", mode: cpioRegular | 0o600, nlink: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	inos := make(map[uint32]bool)
	for i := range want {
		g := got[i]
		if inos[g.ino] {
			t.Errorf("%s: inode %d reused", g.name, g.ino)
		}
		inos[g.ino] = true
		g.ino = 0
		if g != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, g, want[i])
		}
	}

	// busybox-static's cpio, when present, must read the archive too.
	bb, err := findBusybox()
	if err != nil {
		t.Logf("no busybox to cross-check with: %v", err)
		return
	}
	cmd := exec.Command(bb, "cpio", "-t")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("busybox cpio -t: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "dev/console\n") || !strings.Contains(string(out), "usr/bin/kmod\n") {
		t.Errorf("busybox cpio -t listed:\n%s", out)
	}
}

func TestCPIOBadHostFile(t *testing.T) {
	c := NewCPIOWriter(&bytes.Buffer{})
	if err := c.CopyFile("/x", 0, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("copying a missing host file succeeded")
	}
	if err := c.CopyFile("/x", 0, t.TempDir()); err == nil {
		t.Error("copying a directory succeeded")
	}
	if err := c.Symlink("/l", ""); err == nil {
		t.Error("a symlink with an empty target succeeded")
	}
}
