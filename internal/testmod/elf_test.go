package testmod_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// allTestModules returns every module the tests write, named for subtests.
func allTestModules() map[string]*testmod.Module {
	mods := map[string]*testmod.Module{}
	for _, tm := range fixtureTree().Modules {
		m := *tm.Module
		m.Name = testmod.ModName(tm.RelPath)
		mods[tm.RelPath] = &m
	}
	for _, c := range allClasses() {
		e, u := classModules(c)
		mods["class/"+e.Name] = e
		mods["class/"+u.Name] = u
		for _, st := range []testmod.ExportStyle{testmod.ExportPlain, testmod.ExportKcrctab, testmod.ExportAbsCRC} {
			m := &testmod.Module{
				Name: "style_" + st.String(), Class: c, ExportStyle: st,
				Exports:         []string{"s1", "s2", "s3"},
				ExportCRCs:      map[string]uint32{"s2": 0xffffffff},
				ExportNamespace: "NS",
				Uses:            []string{"u1"}, WeakUses: []string{"w1"},
				Versions: []testmod.VersionEntry{{CRC: 7, Name: "u1"}},
				Trailer:  []byte("~Module signature appended~\n"),
			}
			mods["style/"+c.String()+"/"+st.String()] = m
		}
	}
	mods["minimal"] = &testmod.Module{Name: "m"}
	mods["bigthismodule"] = &testmod.Module{Name: "big", ThisModuleSize: 0x1000, Machine: elf.EM_AARCH64}
	return mods
}

func TestELFParsesWithDebugELF(t *testing.T) {
	for name, m := range allTestModules() {
		t.Run(name, func(t *testing.T) {
			img, err := m.ELF()
			if err != nil {
				t.Fatalf("ELF: %v", err)
			}
			checkModuleELF(t, m, img)
		})
	}
}

// checkModuleELF parses img with debug/elf and compares every section the
// package writes with what m asked for.
func checkModuleELF(t *testing.T, m *testmod.Module, img []byte) {
	t.Helper()
	if !bytes.HasSuffix(img, m.Trailer) {
		t.Errorf("image does not end with the trailer")
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("debug/elf: %v", err)
	}
	defer f.Close()

	wantClass, wantData := elf.ELFCLASS64, elf.ELFDATA2LSB
	if !m.Class.Is64() {
		wantClass = elf.ELFCLASS32
	}
	if m.Class.ByteOrder() == binary.ByteOrder(binary.BigEndian) {
		wantData = elf.ELFDATA2MSB
	}
	wantMachine := m.Machine
	if wantMachine == 0 {
		wantMachine = m.Class.DefaultMachine()
	}
	if f.Class != wantClass || f.Data != wantData || f.Type != elf.ET_REL || f.Machine != wantMachine {
		t.Errorf("header: class %v data %v type %v machine %v; want %v %v ET_REL %v",
			f.Class, f.Data, f.Type, f.Machine, wantClass, wantData, wantMachine)
	}
	bo := m.Class.ByteOrder()

	data := func(name string) []byte {
		t.Helper()
		s := f.Section(name)
		if s == nil {
			t.Fatalf("no section %s", name)
		}
		b, err := s.Data()
		if err != nil {
			t.Fatalf("section %s: %v", name, err)
		}
		return b
	}
	present := func(name string, want bool) {
		t.Helper()
		if got := f.Section(name) != nil; got != want {
			t.Errorf("section %s present = %v, want %v", name, got, want)
		}
	}
	hasExports := len(m.Exports) > 0
	present("__ksymtab", hasExports)
	present("__ksymtab_strings", hasExports)
	present("__kcrctab", hasExports && m.ExportStyle == testmod.ExportKcrctab)
	present("__versions", len(m.Versions) > 0)
	present(".text", true)
	present(".note.GNU-stack", true)
	if f.Sections[0].Type != elf.SHT_NULL {
		t.Errorf("section 0 is %v", f.Sections[0].Type)
	}
	if got := f.Sections[len(f.Sections)-1].Name; got != ".shstrtab" {
		t.Errorf("last section %q, want .shstrtab", got)
	}

	// .modinfo: the raw strings, each NUL-terminated, in order.
	var wantInfo bytes.Buffer
	for _, kv := range m.ModInfo {
		wantInfo.WriteString(kv + "\x00")
	}
	if got := data(".modinfo"); !bytes.Equal(got, wantInfo.Bytes()) {
		t.Errorf(".modinfo = %q, want %q", got, wantInfo.Bytes())
	}

	// .gnu.linkonce.this_module: struct module with name at the offset.
	tm := data(".gnu.linkonce.this_module")
	wantSize := m.ThisModuleSize
	if wantSize == 0 {
		wantSize = testmod.DefaultThisModuleSize(m.Class)
	}
	if len(tm) != wantSize {
		t.Errorf("this_module size %d, want %d", len(tm), wantSize)
	}
	off, size := testmod.ThisModuleNameOffset(m.Class)
	nameField := tm[off : off+size]
	if got, _, _ := bytes.Cut(nameField, []byte{0}); string(got) != m.Name {
		t.Errorf("struct module.name = %q, want %q", got, m.Name)
	}
	if !allZero(tm[:off]) || !allZero(tm[off+len(m.Name):]) {
		t.Errorf("this_module has stray bytes besides the name")
	}
	if s := f.Section(".gnu.linkonce.this_module"); s.Flags != elf.SHF_ALLOC|elf.SHF_WRITE || s.Addralign != 64 {
		t.Errorf("this_module flags %v align %d", s.Flags, s.Addralign)
	}

	// __versions: fixed-size records.
	if len(m.Versions) > 0 {
		v := data("__versions")
		if len(v) != 64*len(m.Versions) {
			t.Fatalf("__versions size %d, want %d", len(v), 64*len(m.Versions))
		}
		for i, want := range m.Versions {
			rec := v[64*i : 64*(i+1)]
			var crc uint64
			name := rec[8:]
			if m.Class.Is64() {
				crc = bo.Uint64(rec)
			} else {
				crc = uint64(bo.Uint32(rec))
				name = rec[4:]
			}
			gotName, _, _ := bytes.Cut(name, []byte{0})
			if crc != want.CRC || string(gotName) != want.Name {
				t.Errorf("__versions[%d] = %#x %q, want %#x %q", i, crc, gotName, want.CRC, want.Name)
			}
		}
	}

	// __ksymtab_strings: names, each followed by the namespace if any.
	if hasExports {
		var want bytes.Buffer
		for _, s := range m.Exports {
			want.WriteString(s + "\x00")
			if m.ExportNamespace != "" {
				want.WriteString(m.ExportNamespace + "\x00")
			}
		}
		if got := data("__ksymtab_strings"); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("__ksymtab_strings = %q, want %q", got, want.Bytes())
		}
		if got := len(data("__ksymtab")); got != 12*len(m.Exports) {
			t.Errorf("__ksymtab size %d", got)
		}
	}

	// .symtab: link, info, ordering and the symbols themselves.
	symtab := f.Section(".symtab")
	if symtab == nil {
		t.Fatal("no .symtab")
	}
	if f.Sections[symtab.Link].Name != ".strtab" {
		t.Errorf(".symtab sh_link -> %q", f.Sections[symtab.Link].Name)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("Symbols: %v", err)
	}
	// debug/elf drops the null symbol, so symbol i here is index i+1.
	firstGlobal := int(symtab.Info) - 1
	sectionSyms := 0
	for i, s := range syms {
		local := elf.ST_BIND(s.Info) == elf.STB_LOCAL
		if local != (i < firstGlobal) {
			t.Errorf("symbol %d %q local=%v but sh_info=%d", i+1, s.Name, local, symtab.Info)
		}
		if elf.ST_TYPE(s.Info) == elf.STT_SECTION {
			sectionSyms++
		}
	}
	if sectionSyms < 2 {
		t.Errorf("%d section symbols, want some", sectionSyms)
	}
	byName := map[string]elf.Symbol{}
	var undef, weakUndef []string
	for _, s := range syms {
		if s.Name != "" {
			if _, dup := byName[s.Name]; dup {
				t.Errorf("duplicate symbol %q", s.Name)
			}
			byName[s.Name] = s
		}
		if s.Section == elf.SHN_UNDEF {
			switch elf.ST_BIND(s.Info) {
			case elf.STB_GLOBAL:
				undef = append(undef, s.Name)
			case elf.STB_WEAK:
				weakUndef = append(weakUndef, s.Name)
			default:
				t.Errorf("undefined local symbol %q", s.Name)
			}
		}
	}
	if !slices.Equal(undef, m.Uses) || !slices.Equal(weakUndef, m.WeakUses) {
		t.Errorf("undefined symbols %q weak %q, want %q weak %q", undef, weakUndef, m.Uses, m.WeakUses)
	}
	if s, ok := byName["__this_module"]; !ok || f.Sections[s.Section].Name != ".gnu.linkonce.this_module" ||
		elf.ST_BIND(s.Info) != elf.STB_GLOBAL || s.Size != uint64(wantSize) {
		t.Errorf("__this_module = %+v", s)
	}
	for _, fn := range append([]string{"init_module", "cleanup_module"}, m.Exports...) {
		s, ok := byName[fn]
		if !ok || f.Sections[s.Section].Name != ".text" || elf.ST_TYPE(s.Info) != elf.STT_FUNC ||
			elf.ST_BIND(s.Info) != elf.STB_GLOBAL {
			t.Errorf("function %q = %+v", fn, s)
		}
	}
	crcSyms := 0
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "__crc_") {
			crcSyms++
		}
	}
	wantCRCSyms := len(m.Exports)
	if m.ExportStyle == testmod.ExportPlain {
		wantCRCSyms = 0
	}
	if crcSyms != wantCRCSyms {
		t.Errorf("%d __crc_ symbols, want %d", crcSyms, wantCRCSyms)
	}
	for _, e := range m.Exports {
		s, ok := byName["__crc_"+e]
		if !ok {
			continue
		}
		var got uint32
		switch m.ExportStyle {
		case testmod.ExportKcrctab:
			// kmod_elf_resolve_crc: st_value is an offset into the
			// section st_shndx names.
			sec := f.Sections[s.Section]
			if sec.Name != "__kcrctab" {
				t.Errorf("__crc_%s in %q", e, sec.Name)
				continue
			}
			got = bo.Uint32(data("__kcrctab")[s.Value:])
		case testmod.ExportAbsCRC:
			if s.Section != elf.SHN_ABS {
				t.Errorf("__crc_%s not absolute", e)
			}
			got = uint32(s.Value)
		}
		if want := m.ExportCRC(e); got != want {
			t.Errorf("CRC of %s = %#x, want %#x", e, got, want)
		}
	}
	for _, s := range f.Sections {
		if s.Offset%max(s.Addralign, 1) != 0 {
			t.Errorf("section %s at %#x not aligned to %d", s.Name, s.Offset, s.Addralign)
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestELFRejectsBadModules(t *testing.T) {
	long := strings.Repeat("x", 56)
	cases := map[string]testmod.Module{
		"no name":            {},
		"name too long":      {Name: long},
		"name too long 32":   {Name: strings.Repeat("x", 60), Class: testmod.ELF32LSB},
		"export twice":       {Name: "m", Exports: []string{"a", "a"}},
		"export and use":     {Name: "m", Exports: []string{"a"}, Uses: []string{"a"}},
		"empty use":          {Name: "m", Uses: []string{""}},
		"reserved export":    {Name: "m", Exports: []string{"init_module"}},
		"reserved use":       {Name: "m", Uses: []string{"__this_module"}},
		"empty modinfo":      {Name: "m", ModInfo: []string{""}},
		"nul modinfo":        {Name: "m", ModInfo: []string{"a=b\x00c"}},
		"crc of non-export":  {Name: "m", ExportCRCs: map[string]uint32{"x": 1}},
		"long version name":  {Name: "m", Versions: []testmod.VersionEntry{{Name: long}}},
		"32-bit version crc": {Name: "m", Class: testmod.ELF32MSB, Versions: []testmod.VersionEntry{{CRC: 1 << 32, Name: "x"}}},
		"bad class":          {Name: "m", Class: 9},
		"bad style":          {Name: "m", ExportStyle: 9},
		"tiny this_module":   {Name: "m", ThisModuleSize: 16},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := m.ELF(); err == nil {
				t.Errorf("ELF() succeeded for %+v", m)
			}
		})
	}
	// The longest allowed name just fits.
	ok := testmod.Module{Name: long[:55]}
	if _, err := ok.ELF(); err != nil {
		t.Errorf("55-byte name: %v", err)
	}
}

func TestELFIsDeterministic(t *testing.T) {
	for name, m := range allTestModules() {
		a, err1 := m.ELF()
		b, err2 := m.ELF()
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: two builds differ (%v, %v)", name, err1, err2)
		}
	}
}

func TestModInfoHelpers(t *testing.T) {
	got := append([]string{
		testmod.KV("k", "v"),
		testmod.Depends("a", "b"),
		testmod.Depends(),
		testmod.Softdep("pre: x post: y"),
		testmod.Weakdep("w"),
		testmod.Parm("p", "desc"),
		testmod.ParmType("p", "int"),
		testmod.ModuleVersion("1.0"),
		testmod.SrcVersion("ABC"),
	}, testmod.Aliases("a1", "a2")...)
	want := []string{"k=v", "depends=a,b", "depends=", "softdep=pre: x post: y", "weakdep=w",
		"parm=p:desc", "parmtype=p:int", "version=1.0", "srcversion=ABC", "alias=a1", "alias=a2"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	std := testmod.StandardModInfo("foo", "1.0 SMP ", "bar")
	if want := []string{"depends=bar", "retpoline=Y", "intree=Y", "name=foo", "vermagic=1.0 SMP "}; !slices.Equal(std, want) {
		t.Errorf("StandardModInfo = %q", std)
	}
	m := testmod.Module{ModInfo: []string{"alias=x", "license=GPL", "alias=y", "flag"}}
	if got := m.Info("alias"); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("Info(alias) = %q", got)
	}
	if got := m.Info("flag"); !slices.Equal(got, []string{""}) {
		t.Errorf("Info(flag) = %q", got)
	}
	if got := fmt.Sprint(testmod.ExportKcrctab, testmod.ELF32MSB, testmod.Zstd); got != "ExportKcrctab ELF32MSB Zstd" {
		t.Errorf("String methods: %q", got)
	}
}
