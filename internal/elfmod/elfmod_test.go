package elfmod

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/testmod"
)

var allClasses = []testmod.Class{testmod.ELF64LSB, testmod.ELF64MSB, testmod.ELF32LSB, testmod.ELF32MSB}
var allStyles = []testmod.ExportStyle{testmod.ExportPlain, testmod.ExportKcrctab, testmod.ExportAbsCRC}

func sampleModule(c testmod.Class, s testmod.ExportStyle) *testmod.Module {
	return &testmod.Module{
		Name: "sample_mod",
		ModInfo: append(testmod.StandardModInfo("sample_mod", testmod.DefaultVermagic("6.1.0-test"), "dep_a", "dep_b"),
			testmod.Alias("pci:v00008086d*"), testmod.Parm("debug", "Debug level (int)"), "noequals", "k=v=w"),
		Exports:     []string{"sample_export_one", "sample_export_two", "sample_export_three"},
		ExportStyle: s,
		ExportCRCs:  map[string]uint32{"sample_export_two": 0xdeadbeef},
		Uses:        []string{"printk", "kmalloc", "used_no_version"},
		WeakUses:    []string{"maybe_there"},
		Versions: []testmod.VersionEntry{
			{CRC: 0x12345678, Name: "module_layout"},
			{CRC: 0x9abcdef0, Name: "kmalloc"},
			{CRC: 0x0badf00d, Name: "printk"},
			{CRC: 0x11111111, Name: "maybe_there"},
		},
		Class: c,
	}
}

// oracleUndefined derives the expected Undefined result with debug/elf.
func oracleUndefined(t *testing.T, img []byte, vers []testmod.VersionEntry) []Symbol {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	visited := make([]bool, len(vers))
	var want []Symbol
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF || s.Name == "" {
			continue
		}
		var crc uint64
		for i, v := range vers {
			if v.Name == s.Name {
				visited[i], crc = true, v.CRC
				break
			}
		}
		bind := byte(elf.STB_GLOBAL)
		if elf.ST_BIND(s.Info) == elf.STB_WEAK {
			bind = byte(elf.STB_WEAK)
		}
		want = append(want, Symbol{CRC: crc, Name: s.Name, Bind: bind})
	}
	for i, v := range vers {
		if !visited[i] {
			want = append(want, Symbol{CRC: v.CRC, Name: v.Name, Bind: byte(elf.STB_GLOBAL)})
		}
	}
	return want
}

// oracleCRCExports lists __crc_ symbols in .symtab order with debug/elf.
func oracleCRCExports(t *testing.T, img []byte, m *testmod.Module) []Symbol {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var want []Symbol
	for _, s := range syms {
		if name, ok := strings.CutPrefix(s.Name, "__crc_"); ok {
			want = append(want, Symbol{CRC: uint64(m.ExportCRC(name)), Name: name, Bind: byte(elf.ST_BIND(s.Info))})
		}
	}
	return want
}

func TestSynthetic(t *testing.T) {
	for _, c := range allClasses {
		for _, s := range allStyles {
			t.Run(c.String()+"/"+s.String(), func(t *testing.T) {
				tm := sampleModule(c, s)
				img, err := tm.ELF()
				if err != nil {
					t.Fatal(err)
				}
				m, err := Parse(img)
				if err != nil {
					t.Fatal(err)
				}
				wantClass := elf.ELFCLASS32
				if c.Is64() {
					wantClass = elf.ELFCLASS64
				}
				if elf.Class(m.Class()) != wantClass || m.ByteOrder() != c.ByteOrder() {
					t.Errorf("class/order = %v/%v", m.Class(), m.ByteOrder())
				}

				mi, err := m.Modinfo()
				if err != nil {
					t.Fatal(err)
				}
				var gotInfo []string
				for _, kv := range mi {
					gotInfo = append(gotInfo, kv.Key+"="+kv.Value)
				}
				var wantInfo []string
				for _, s := range tm.ModInfo {
					if !strings.Contains(s, "=") {
						s += "="
					}
					wantInfo = append(wantInfo, s)
				}
				if fmt.Sprint(gotInfo) != fmt.Sprint(wantInfo) {
					t.Errorf("Modinfo = %q, want %q", gotInfo, wantInfo)
				}

				vers, err := m.Versions()
				if err != nil {
					t.Fatal(err)
				}
				var wantVers []Symbol
				for _, v := range tm.Versions {
					wantVers = append(wantVers, Symbol{CRC: v.CRC, Name: v.Name, Bind: byte(elf.STB_GLOBAL)})
				}
				if fmt.Sprint(vers) != fmt.Sprint(wantVers) {
					t.Errorf("Versions = %v, want %v", vers, wantVers)
				}

				exp, err := m.Exports()
				if err != nil {
					t.Fatal(err)
				}
				var wantExp []Symbol
				if s == testmod.ExportPlain {
					for _, e := range tm.Exports {
						wantExp = append(wantExp, Symbol{Name: e, Bind: byte(elf.STB_GLOBAL)})
					}
				} else {
					wantExp = oracleCRCExports(t, img, tm)
					if len(wantExp) != len(tm.Exports) {
						t.Errorf("oracle found %d __crc_ symbols, want %d", len(wantExp), len(tm.Exports))
					}
				}
				if fmt.Sprint(exp) != fmt.Sprint(wantExp) {
					t.Errorf("Exports = %v, want %v", exp, wantExp)
				}

				und, err := m.Undefined()
				if err != nil {
					t.Fatal(err)
				}
				if want := oracleUndefined(t, img, tm.Versions); fmt.Sprint(und) != fmt.Sprint(want) {
					t.Errorf("Undefined = %v, want %v", und, want)
				}
				if len(und) != len(tm.Uses)+len(tm.WeakUses)+1 {
					t.Errorf("Undefined has %d entries, want %d", len(und), len(tm.Uses)+len(tm.WeakUses)+1)
				}

				name, err := m.ThisModuleName()
				if err != nil || name != "sample_mod" {
					t.Errorf("ThisModuleName = %q, %v", name, err)
				}
				if _, ok := ParseSignature(img); ok {
					t.Error("ParseSignature found a signature in an unsigned module")
				}
			})
		}
	}
}

func TestNamespaceExports(t *testing.T) {
	tm := &testmod.Module{Name: "ns", Exports: []string{"a_sym"}, ExportNamespace: "MY_NS"}
	img, err := tm.ELF()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(img)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := m.Exports()
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(exp); got != "[{0 a_sym 1} {0 MY_NS 1}]" {
		t.Errorf("Exports = %s", got)
	}
}

func TestStringsOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", nil},
		{"\x00\x00x", nil}, // a single byte left after the padding is dropped
		{"\x00\x00xy", []string{"xy"}},
		{"a\x00\x00\x00b", []string{"a", "b"}},
		{"a=1\x00b\x00", []string{"a=1", "b"}},
		{"\x00\x00a\x00", []string{"a"}},
	} {
		if got := stringsOf([]byte(tc.in)); fmt.Sprint(got) != fmt.Sprint(tc.want) || len(got) != len(tc.want) {
			t.Errorf("stringsOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := Parse([]byte("not an elf file at all, no no no")); !errors.Is(err, ErrFormat) {
		t.Errorf("Parse(garbage) = %v", err)
	}
	img, err := (&testmod.Module{Name: "x"}).ELF()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(img); n += 7 {
		if m, err := Parse(img[:n]); err == nil {
			_, _ = m.Modinfo() // must not panic
		} else if !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(img[:%d]) = %v, want ErrFormat", n, err)
		}
	}
	m, err := Parse(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Versions(); !errors.Is(err, ErrNoSection) {
		t.Errorf("Versions without __versions = %v", err)
	}
	var fe *FormatError
	if _, err := m.Versions(); !errors.As(err, &fe) || fe.Section != "__versions" {
		t.Errorf("Versions error = %#v", err)
	}
}

func TestSignatureDefault(t *testing.T) {
	signer := "Magrathea: Glacier signing key"
	keyID := bytes.Repeat([]byte{0xe3}, 20)
	sig := bytes.Repeat([]byte{0x5a}, 21)
	var tr []byte
	tr = append(tr, signer...)
	tr = append(tr, keyID...)
	tr = append(tr, sig...)
	tr = append(tr, 1, 4, 1, byte(len(signer)), byte(len(keyID)), 0, 0, 0, 0, 0, 0, byte(len(sig)))
	tr = append(tr, SignatureMagic...)
	img, err := (&testmod.Module{Name: "s", Trailer: tr}).ELF()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := ParseSignature(img)
	if !ok {
		t.Fatal("no signature")
	}
	if s.IDType != "X509" || s.Algo != "RSA" || s.Signer != signer || s.HashAlgo != "sha256" ||
		!bytes.Equal(s.KeyID, keyID) || !bytes.Equal(s.Sig, sig) {
		t.Errorf("signature = %+v", s)
	}
	info := s.Info()
	if info[4].Value != strings.Repeat("5A:", 20)+"\n\t\t5A" {
		t.Errorf("signature hex = %q", info[4].Value)
	}
	// Invalid variants.
	for i, mut := range []func(b []byte){
		func(b []byte) { b[len(b)-len(SignatureMagic)-12] = 2 },   // algo
		func(b []byte) { b[len(b)-len(SignatureMagic)-11] = 9 },   // hash
		func(b []byte) { b[len(b)-len(SignatureMagic)-10] = 3 },   // id_type
		func(b []byte) { b[len(b)-len(SignatureMagic)-1] = 0 },    // sig_len
		func(b []byte) { b[len(b)-len(SignatureMagic)-4] = 0xff }, // too long
		func(b []byte) { b[len(b)-1] = 'x' },                      // magic
	} {
		b := bytes.Clone(img)
		mut(b)
		if _, ok := ParseSignature(b); ok {
			t.Errorf("variant %d accepted", i)
		}
	}
}

// realModules returns the Debian module sample: every 20th .ko plus
// dummy.ko and ip_vs.ko.
func realModules(t *testing.T) (root, release string, files []string) {
	root, release = testmod.DebianTree(t)
	var all []string
	dir := filepath.Join(root, "lib/modules", release, "kernel")
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			all = append(all, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range all {
		b := filepath.Base(p)
		if i%20 == 0 || b == "dummy.ko" || b == "ip_vs.ko" {
			files = append(files, p)
		}
	}
	if len(files) < 100 {
		t.Fatalf("only %d modules sampled", len(files))
	}
	return root, release, files
}

// toolParms renders parm/parmtype entries as modinfo(8) prints them: one
// line per parameter name, newest name first, description and type merged.
func toolParms(mi []KeyValue) []string {
	type param struct {
		name, desc, typ string
		hasDesc, hasTyp bool
	}
	var list []*param
	for _, kv := range mi {
		if kv.Key != "parm" && kv.Key != "parmtype" {
			continue
		}
		name, val, ok := strings.Cut(kv.Value, ":")
		if !ok {
			continue
		}
		var it *param
		for _, p := range list {
			if p.name == name {
				it = p
				break
			}
		}
		if it == nil {
			it = &param{name: name}
			list = append([]*param{it}, list...)
		}
		if kv.Key == "parm" {
			it.desc, it.hasDesc = val, true
		} else {
			it.typ, it.hasTyp = val, true
		}
	}
	var out []string
	for _, p := range list {
		switch {
		case !p.hasDesc:
			out = append(out, fmt.Sprintf("%-16s%s:%s", "parm:", p.name, p.typ))
		case p.hasTyp:
			out = append(out, fmt.Sprintf("%-16s%s:%s (%s)", "parm:", p.name, p.desc, p.typ))
		default:
			out = append(out, fmt.Sprintf("%-16s%s:%s", "parm:", p.name, p.desc))
		}
	}
	return out
}

func symbolLines(syms []Symbol) string {
	var sb strings.Builder
	for _, s := range syms {
		fmt.Fprintf(&sb, "0x%08x\t%s\n", s.CRC, s.Name)
	}
	return sb.String()
}

func TestDebianDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	testmod.RequireTool(t, "modinfo")
	testmod.RequireTool(t, "modprobe")
	root, release, files := realModules(t)
	var same = map[string]int{}
	for _, p := range files {
		img, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(img)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}

		// modinfo -0: key=value records; parm lines are merged by the
		// tool and formatted differently, so they are compared apart.
		out, err := testmod.RunTool(t.Context(), "modinfo", "-0", "-b", root, "-k", release, p)
		if err != nil {
			t.Errorf("modinfo %s: %v", p, err)
			continue
		}
		var wantRecs, wantParms []string
		for _, r := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
			switch {
			case strings.HasPrefix(r, "filename:"):
			case strings.HasPrefix(r, "parm:"):
				wantParms = append(wantParms, r)
			default:
				wantRecs = append(wantRecs, r)
			}
		}
		mi, err := m.Modinfo()
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if sig, ok := ParseSignature(img); ok {
			mi = append(mi, sig.Info()...)
		}
		var gotRecs []string
		for _, kv := range mi {
			if kv.Key == "parm" || kv.Key == "parmtype" {
				continue
			}
			gotRecs = append(gotRecs, kv.Key+"="+kv.Value)
		}
		if strings.Join(gotRecs, "\x00") == strings.Join(wantRecs, "\x00") {
			same["modinfo"]++
		} else {
			t.Errorf("%s: modinfo differs:\n got %q\nwant %q", p, gotRecs, wantRecs)
		}
		if got := toolParms(mi); strings.Join(got, "\x00") == strings.Join(wantParms, "\x00") {
			same["parm"]++
		} else {
			t.Errorf("%s: parm lines differ:\n got %q\nwant %q", p, got, wantParms)
		}

		out, err = testmod.RunTool(t.Context(), "modprobe", "--show-modversions", p)
		if err != nil {
			t.Errorf("modprobe --show-modversions %s: %v", p, err)
			continue
		}
		vers, err := m.Versions()
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if symbolLines(vers) == out {
			same["show-modversions"]++
		} else {
			t.Errorf("%s: --show-modversions differs:\n got %q\nwant %q", p, symbolLines(vers), out)
		}

		out, toolErr := testmod.RunTool(t.Context(), "modprobe", "--show-exports", p)
		exp, err := m.Exports()
		var te *testmod.ToolError
		switch {
		case toolErr != nil && errors.As(toolErr, &te) && strings.Contains(te.Stderr, "No such file or directory") && errors.Is(err, ErrNoSection):
			// No export at all: kmod fails with -ENOENT, Exports with ErrNoSection.
			same["show-exports"]++
			same["show-exports-none"]++
		case toolErr != nil:
			t.Errorf("modprobe --show-exports %s: %v (Exports: %v)", p, toolErr, err)
		case err != nil:
			t.Errorf("%s: %v", p, err)
		case symbolLines(exp) == out:
			same["show-exports"]++
		default:
			t.Errorf("%s: --show-exports differs:\n got %q\nwant %q", p, symbolLines(exp), out)
		}
		if _, err := m.Undefined(); err != nil {
			t.Errorf("%s: Undefined: %v", p, err)
		}
	}
	t.Logf("%d modules: identical outputs %v", len(files), same)
}

// TestSyntheticAgainstModprobe runs kmod's --show-* on the testmod images.
func TestSyntheticAgainstModprobe(t *testing.T) {
	testmod.RequireTool(t, "modprobe")
	dir := t.TempDir()
	n := 0
	for _, c := range allClasses {
		for _, s := range allStyles {
			tm := sampleModule(c, s)
			img, err := tm.ELF()
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, fmt.Sprintf("m_%d_%d.ko", c, s))
			if err := os.WriteFile(p, img, 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := Parse(img)
			if err != nil {
				t.Fatal(err)
			}
			vers, _ := m.Versions()
			exp, _ := m.Exports()
			for _, tc := range []struct {
				flag string
				got  []Symbol
			}{{"--show-modversions", vers}, {"--show-exports", exp}} {
				out, err := testmod.RunTool(t.Context(), "modprobe", tc.flag, p)
				if err != nil {
					t.Fatalf("%s %s: %v", tc.flag, p, err)
				}
				if symbolLines(tc.got) != out {
					t.Errorf("%v/%v %s:\n got %q\nwant %q", c, s, tc.flag, symbolLines(tc.got), out)
				} else {
					n++
				}
			}
		}
	}
	t.Logf("%d identical outputs", n)
}

// TestConstantsMatchDebugELF: the numbers the package spells itself are
// debug/elf's.
func TestConstantsMatchDebugELF(t *testing.T) {
	assert.Equal(t, elf.ELFMAG, ELFMag)
	assert.Equal(t, []int{elf.EI_CLASS, elf.EI_DATA, elf.EI_NIDENT}, []int{eiClass, eiData, eiNIdent})
	assert.Equal(t, []elf.Class{elf.ELFCLASS32, elf.ELFCLASS64}, []elf.Class{elf.Class(Class32), elf.Class(Class64)})
	assert.Equal(t, []elf.Data{elf.ELFDATA2LSB, elf.ELFDATA2MSB}, []elf.Data{data2LSB, data2MSB})
	assert.Equal(t, []elf.SectionIndex{elf.SHN_UNDEF, elf.SHN_ABS}, []elf.SectionIndex{shnUndef, shnAbs})
	assert.Equal(t, []elf.Machine{elf.EM_SPARC, elf.EM_SPARCV9}, []elf.Machine{emSPARC, emSPARCV9})
	assert.Equal(t, elf.SHF_ALLOC, elf.SectionFlag(SHFAlloc))
	assert.Equal(t, []elf.SymBind{elf.STB_LOCAL, elf.STB_GLOBAL, elf.STB_WEAK}, []elf.SymBind{elf.SymBind(STBLocal), elf.SymBind(STBGlobal), elf.SymBind(STBWeak)})
}

// TestSectionFlagsByte: in every class and byte order, the byte
// SectionFlagsByte names is where debug/elf reads SHF_ALLOC of that
// section, and the range it gives is the section's.
func TestSectionFlagsByte(t *testing.T) {
	for _, c := range allClasses {
		t.Run(c.String(), func(t *testing.T) {
			img, err := sampleModule(c, testmod.ExportPlain).ELF()
			require.NoError(t, err)
			ref, err := elf.NewFile(bytes.NewReader(img))
			require.NoError(t, err)
			m, err := Parse(img)
			require.NoError(t, err)
			checked := 0
			for i, s := range ref.Sections {
				if i == 0 || s.Type == elf.SHT_NOBITS || slices.ContainsFunc(ref.Sections[:i], func(p *elf.Section) bool { return p.Name == s.Name }) {
					continue
				}
				flags, start, end, ok := m.SectionFlagsByte(s.Name)
				require.True(t, ok, s.Name)
				assert.Equal(t, [2]uint64{s.Offset, s.Offset + s.Size}, [2]uint64{start, end}, s.Name)
				edited := bytes.Clone(img)
				edited[flags] ^= SHFAlloc
				got, err := elf.NewFile(bytes.NewReader(edited))
				require.NoError(t, err)
				assert.Equal(t, s.Flags^elf.SHF_ALLOC, got.Sections[i].Flags, "%s: the byte at %#x", s.Name, flags)
				checked++
			}
			assert.Greater(t, checked, 3)
			_, _, _, ok := m.SectionFlagsByte(".no_such_section")
			assert.False(t, ok)
		})
	}
}

// TestErrNoModinfo: the sentinel reads and wraps as fmt.Errorf's %w made
// it.
func TestErrNoModinfo(t *testing.T) {
	want := fmt.Errorf("no .modinfo: %w", ErrNoSection)
	assert.Equal(t, want.Error(), ErrNoModinfo.Error())
	assert.ErrorIs(t, ErrNoModinfo, ErrNoSection)
	assert.NotErrorIs(t, ErrNoSection, ErrNoModinfo)
}
