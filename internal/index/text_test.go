package index

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuildDep(t *testing.T) {
	b, prio, bad, err := BuildDep(strings.NewReader("kernel/a.ko:\nkernel/b-x.ko.xz: kernel/a.ko\nnonsense line\n\n"), "modules.dep")
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || !strings.Contains(bad[0].Error(), "modules.dep:3:") {
		t.Errorf("bad lines = %v", bad)
	}
	if prio["a"] != 0 || prio["b_x"] != 1 {
		t.Errorf("priorities = %v", prio)
	}
	x, _ := b.Index()
	if v, ok := x.Lookup("b_x"); !ok || v != "kernel/b-x.ko.xz: kernel/a.ko" {
		t.Errorf("Lookup(b_x) = %q", v)
	}
}

func TestBuildAlias(t *testing.T) {
	prio := Priorities{"first": 0, "second": 1}
	text := "# comment\nalias fs-foo second\nalias fs-foo first\nalias net-pf-[1-3] first\nalias bad[ first\nalias with space x second\nalias\n"
	b, bad, err := BuildAlias(strings.NewReader(text), "modules.alias", prio, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 2 {
		t.Errorf("bad = %v", bad)
	}
	x, _ := b.Index()
	if got := values(x.Search("fs_foo")); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("Search(fs_foo) = %q", got)
	}
	if got := values(x.Search("net_pf_2")); !slices.Equal(got, []string{"first"}) {
		t.Errorf("brackets keep their '-': %q", got)
	}
	if got := values(x.Search("with space x")); !slices.Equal(got, []string{"second"}) {
		t.Errorf("alias with space: %q", got)
	}
}

func TestBuildBuiltin(t *testing.T) {
	b, bad, err := BuildBuiltin(strings.NewReader("kernel/fs/ext4/ext4.ko\n/abs/x.ko\nkernel/drivers/bi-one.ko\n"), "modules.builtin")
	if err != nil || len(bad) != 1 {
		t.Fatalf("err %v bad %v", err, bad)
	}
	x, _ := b.Index()
	for _, k := range []string{"ext4", "bi_one"} {
		if _, ok := x.Lookup(k); !ok {
			t.Errorf("%s missing", k)
		}
	}
}

func TestBuildBuiltinAlias(t *testing.T) {
	// The record without '=' swallows the record after it, as depmod's
	// stream reader does.
	data := "ext4.alias=fs-ext4\x00ext4.license=GPL\x00broken.noequals\x00lost.alias=gone\x00nodot\x00bi.alias=bi-[0-9]*\x00"
	b, _, err := BuildBuiltinAlias(strings.NewReader(data), "modules.builtin.modinfo")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := b.Index()
	var keys []string
	for _, kv := range x.Keys() {
		keys = append(keys, kv.Key+"="+kv.Value)
	}
	if want := []string{"bi_[0-9]*=bi", "fs_ext4=ext4"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
}

func TestLoadSet(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("modules.dep", "kernel/a.ko:\nkernel/b.ko: kernel/a.ko\n")
	write("modules.alias", "alias x-* b\n")
	write("modules.symbols", "alias symbol:f a\n")
	write("modules.builtin", "kernel/e.ko\n")
	var logged []error
	s := Load(dir, func(err error) { logged = append(logged, err) })
	defer s.Close()
	if s.Order() != StoredOrder {
		t.Errorf("text fallbacks count as loaded; order = %v", s.Order())
	}
	if s.Source(Dep) != FromText || s.Source(BuiltinAlias) != FromNone {
		t.Errorf("sources: %v %v", s.Source(Dep), s.Source(BuiltinAlias))
	}
	if v, ok := s.Get(Dep).Lookup("b"); !ok || v != "kernel/b.ko: kernel/a.ko" {
		t.Errorf("dep b = %q", v)
	}
	if got := values(s.Get(Alias).Search("x_1")); !slices.Equal(got, []string{"b"}) {
		t.Errorf("alias = %q", got)
	}
	if s.Get(BuiltinAlias) != nil {
		t.Error("absent builtin.alias should be nil")
	}

	// A corrupt required index switches libkmod to its per-lookup reader.
	write("modules.alias.bin", "garbage that is long enough")
	logged = nil
	s2 := Load(dir, func(err error) { logged = append(logged, err) })
	defer s2.Close()
	if s2.Order() != ReinsertOrder || len(logged) != 1 || !errors.Is(logged[0], ErrFormat) {
		t.Errorf("order %v, logged %v", s2.Order(), logged)
	}
	if !strings.Contains(logged[0].Error(), "magic check fail") {
		t.Errorf("message = %v", logged[0])
	}
}

// TestLinesInMemory checks that text already in memory is split into the
// same lines, with the same numbers, as text read from a stream.
func TestLinesInMemory(t *testing.T) {
	for _, text := range []string{"", "\n", "a", "a\n", "a\nb", "a\n\nb\n", "\n\n\nx", "a\r\nb\n", strings.Repeat("x ", 100000) + "\ny\n"} {
		collect := func(r io.Reader) []string {
			var got []string
			if err := lines(r, func(line string, n int) error {
				got = append(got, fmt.Sprintf("%d:%s", n, line))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		stream := collect(strings.NewReader(text))
		mem := collect(newTextReader(text))
		if !slices.Equal(stream, mem) {
			t.Errorf("%.20q: in memory %.40q, streamed %.40q", text, mem, stream)
		}
	}
}
