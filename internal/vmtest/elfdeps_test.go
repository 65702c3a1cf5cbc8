package vmtest

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// note returns one ELF note as a note section holds it.
func note(owner string, typ uint32, desc string) []byte {
	pad := func(b []byte) []byte { return append(b, make([]byte, (4-len(b)%4)%4)...) }
	name := pad([]byte(owner + "\x00"))
	d := pad([]byte(desc))
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(owner)+1))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(desc)))
	b = binary.LittleEndian.AppendUint32(b, typ)
	return append(append(b, name...), d...)
}

func TestElfNotes(t *testing.T) {
	data := append(note("GNU", 3, "0123456789abcdef0123"), note("FDO", fdoDlopenNote, `[{"soname":["liblzma.so.5"]}]`)...)
	var got []string
	elfNotes(data, binary.LittleEndian, func(owner string, typ uint32, desc []byte) bool {
		got = append(got, owner+":"+string(desc))
		return true
	})
	want := []string{"GNU:0123456789abcdef0123", `FDO:[{"soname":["liblzma.so.5"]}]`}
	if !slices.Equal(got, want) {
		t.Errorf("notes %q, want %q", got, want)
	}
	// A note whose descriptor runs past the data ends the walk.
	bad := note("FDO", fdoDlopenNote, "xxxx")
	binary.LittleEndian.PutUint32(bad[4:], 1<<20)
	n := 0
	elfNotes(append(note("GNU", 1, "ab"), bad...), binary.LittleEndian, func(string, uint32, []byte) bool { n++; return true })
	if n != 1 {
		t.Errorf("walked %d notes of a truncated list, want 1", n)
	}
}

// TestELFDependenciesKmod34 resolves what Debian 13's kmod needs in the
// root scripts/setup.sh unpacked: its loader, libcrypto from DT_NEEDED and
// liblzma and libzstd from its dlopen notes, all below that root.
func TestELFDependenciesKmod34(t *testing.T) {
	root, err := WrapperRoot(testmod.Kmod34Tool(t, "kmod"))
	if err != nil {
		t.Fatal(err)
	}
	deps, err := ELFDependencies(root, "/usr/bin/kmod")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/usr/bin/kmod", "/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/liblzma.so.5", "/usr/lib/x86_64-linux-gnu/libzstd.so.1",
		"/usr/lib/x86_64-linux-gnu/libz.so.1"} {
		host, ok := deps[want]
		if !ok {
			t.Errorf("%s is missing from %v", want, deps)
			continue
		}
		if rel, err := filepath.Rel(root, host); err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("%s comes from %s, outside %s", want, host, root)
		}
	}
	if _, err := ELFDependencies(t.TempDir(), "/usr/bin/kmod"); err == nil {
		t.Error("an empty root yielded no error")
	}
}
