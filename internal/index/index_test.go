package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func build(t testing.TB, entries ...any) *Index {
	t.Helper()
	var b Builder
	for i := 0; i < len(entries); i += 3 {
		if err := b.Add(entries[i].(string), entries[i+1].(string), uint32(entries[i+2].(int))); err != nil {
			t.Fatal(err)
		}
	}
	x, err := b.Index()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func values(vs []Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Value
	}
	return out
}

func TestLookup(t *testing.T) {
	x := build(t,
		"snd_hda_intel", "line-hda", 3,
		"snd_hda", "line-snd", 2,
		"snd", "v1", 5,
		"snd", "v0", 1,
		"a", "only-a", 0,
	)
	for _, tc := range []struct{ key, want string }{
		{"snd_hda_intel", "line-hda"},
		{"snd_hda", "line-snd"},
		{"snd", "v0"}, // the lowest priority first
		{"a", "only-a"},
	} {
		got, ok := x.Lookup(tc.key)
		if !ok || got != tc.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.key, got, ok, tc.want)
		}
	}
	for _, key := range []string{"", "sn", "snd_", "snd_hda_intelx", "b", "\x80"} {
		if v, ok := x.Lookup(key); ok {
			t.Errorf("Lookup(%q) = %q, want not found", key, v)
		}
	}
}

func TestSearchWildcards(t *testing.T) {
	x := build(t,
		"pci:v00008086d*sv*sd*bc*sc*i*", "e1000", 5,
		"pci:v*d00001234sv*sd*bc*sc*i*", "generic", 2,
		"dmi*:svnACME*:pvr*", "acme", 1,
		"net_pf_[1-3]", "pf", 4,
		"fs_foo", "x", 0,
		"fs_f*", "y", 7,
		"fs_foo", "z", 7,
		"exact", "e", 0,
		"q?", "q", 0,
	)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"pci:v00008086d00001234sv0sd0bc0sc0i0", []string{"generic", "e1000"}},
		{"dmi:bvnX:svnACME Inc/Sub:pvrA/B:", []string{"acme"}}, // '*' crosses '/'
		{"net_pf_2", []string{"pf"}},
		{"net_pf_4", nil},
		{"fs_foo", []string{"x", "z", "y"}}, // ties: the one found last first
		{"exact", []string{"e"}},
		{"exac", nil},
		{"q1", []string{"q"}},
		{"q", nil},
	} {
		if got := values(x.Search(tc.query)); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Search(%q) = %q, want %q", tc.query, got, tc.want)
		}
	}
}

func TestReinsertOrder(t *testing.T) {
	// Values of equal priority come out reversed by libkmod's per-lookup
	// reader.
	x := build(t, "k", "first", 0, "k", "second", 0, "k", "low", 1)
	if got := values(x.Search("k")); !slices.Equal(got, []string{"first", "second", "low"}) {
		// depmod stores "second" before "first"; the mmap reader keeps
		// that order and add_value then reverses the two again.
		t.Logf("stored-order search: %q", got)
	}
	var stored, reinserted bytes.Buffer
	_ = x.Dump(&stored, "")
	x.SetOrder(ReinsertOrder)
	_ = x.Dump(&reinserted, "")
	if stored.String() != "k second\nk first\nk low\n" {
		t.Errorf("stored dump = %q", stored.String())
	}
	if reinserted.String() != "k first\nk second\nk low\n" {
		t.Errorf("reinserted dump = %q", reinserted.String())
	}
	if v, _ := x.Lookup("k"); v != "first" {
		t.Errorf("reinsert Lookup = %q, want first", v)
	}
}

func TestDumpOrder(t *testing.T) {
	x := build(t, "b", "2", 0, "a_x", "3", 0, "a", "1", 0, "ab", "4", 0)
	var out bytes.Buffer
	if err := x.Dump(&out, "alias "); err != nil {
		t.Fatal(err)
	}
	want := "alias a 1\nalias a_x 3\nalias ab 4\nalias b 2\n"
	if out.String() != want {
		t.Errorf("Dump = %q, want %q", out.String(), want)
	}
}

func TestEmptyIndex(t *testing.T) {
	var b Builder
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 12 || binary.BigEndian.Uint32(data[8:]) != 12 {
		t.Fatalf("empty index = %x", data)
	}
	x, err := New(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := x.Lookup(""); ok || len(x.Search("x")) != 0 || len(x.Keys()) != 0 {
		t.Error("the empty index has entries")
	}
}

func TestBadHeaders(t *testing.T) {
	good, _ := (&Builder{}).Bytes()
	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"short", good[:11], "shorter than"},
		{"magic", append([]byte{0xB0, 0x07, 0xFA, 0x57}, good[4:]...), "magic check fail: b007fa57 instead of b007f457"},
		{"version", append(append([]byte{}, good[:4]...), append([]byte{0, 3, 0, 1}, good[8:]...)...), "major version check fail: 3 instead of 2"},
	} {
		_, err := New(tc.data)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestCorruptIndexes(t *testing.T) {
	var b Builder
	for i, k := range []string{"alpha", "alphabet", "beta", "b*", "gamma[0-9]"} {
		_ = b.Add(k, strings.Repeat("v", i+1), uint32(i))
	}
	data, _ := b.Bytes()
	// Every truncation and every single-byte change must neither crash
	// nor hang.
	for n := 12; n < len(data); n++ {
		if x, err := New(data[:n]); err == nil {
			x.Lookup("alphabet")
			x.Search("beta")
			x.Keys()
		}
	}
	for i := 12; i < len(data); i++ {
		for _, v := range []byte{0x00, 0xff, 0x0c, 0x20, 0x80} {
			d := bytes.Clone(data)
			d[i] = v
			if x, err := New(d); err == nil {
				x.Lookup("alphabet")
				x.Search("gamma5")
				x.Keys()
			}
		}
	}
}

func TestCyclicIndexTerminates(t *testing.T) {
	// A root whose only child is the root itself.
	d := make([]byte, 12, 32)
	binary.BigEndian.PutUint32(d, Magic)
	binary.BigEndian.PutUint32(d[4:], VersionMajor<<16)
	binary.BigEndian.PutUint32(d[8:], 12|flagChilds)
	d = append(d, '*', '*')
	d = binary.BigEndian.AppendUint32(d, 12|flagChilds|flagValues)
	d = append(d, 0, 0, 0, 1, 0, 0, 0, 0, 'v', 0)
	x, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	x.Search("anything")
	x.Keys()
	x.Lookup("****")
}

func TestBuilderRejects(t *testing.T) {
	var b Builder
	if err := b.Add("caf\xe9", "x", 0); err == nil {
		t.Error("non-ASCII key accepted")
	}
	if err := b.Add("k", "a\x00b", 0); err == nil {
		t.Error("NUL in value accepted")
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	data, _ := (&Builder{}).Bytes()
	var b Builder
	_ = b.Add("mod", "kernel/mod.ko:", 0)
	full, _ := b.Bytes()
	for name, content := range map[string][]byte{"empty.bin": nil, "zero.bin": data, "full.bin": full, "bad.bin": []byte("not an index at all")} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "empty.bin")); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "empty.bin") {
		t.Errorf("empty: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "bad.bin")); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "bad.bin") {
		t.Errorf("bad: %v", err)
	}
	x, err := Open(filepath.Join(dir, "full.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if v, ok := x.Lookup("mod"); !ok || v != "kernel/mod.ko:" {
		t.Errorf("Lookup = %q %v", v, ok)
	}
}

func TestHostileDeepIndex(t *testing.T) {
	// A node that is its own child, in a file padded to 32 MiB: the
	// budget alone would allow millions of levels; the key length limit
	// stops the walks long before the stack grows.
	d := make([]byte, 12, 64)
	binary.BigEndian.PutUint32(d, Magic)
	binary.BigEndian.PutUint32(d[4:], VersionMajor<<16)
	self := uint32(12 | flagChilds | flagValues)
	binary.BigEndian.PutUint32(d[8:], self)
	d = append(d, 'a', 'a')
	d = binary.BigEndian.AppendUint32(d, self)
	d = append(d, 0, 0, 0, 1, 0, 0, 0, 0, 'v', 0)
	d = append(d, make([]byte, 32<<20)...)
	x, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	x.Walk(func(key string, v Value) {
		n++
		if len(key) >= MaxKeyLen {
			t.Fatalf("walked to a key of %d bytes", len(key))
		}
	})
	if n == 0 || n > MaxKeyLen {
		t.Errorf("walk visited %d values", n)
	}
	x.Search(strings.Repeat("a", 10000))
	if v, ok := x.Lookup(strings.Repeat("a", 100)); !ok || v != "v" {
		t.Errorf("Lookup = %q %v", v, ok)
	}
}

func TestTextFallbackRefusesDevices(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "modules.dep")); err != nil {
		t.Fatal(err)
	}
	var logged []error
	s := Load(dir, func(err error) { logged = append(logged, err) })
	defer s.Close()
	if x := s.Get(Dep); x != nil {
		t.Error("an index was built from /dev/zero")
	}
	if len(logged) == 0 || !strings.Contains(logged[len(logged)-1].Error(), "modules.dep") {
		t.Errorf("no error naming modules.dep: %v", logged)
	}
}
