package testmod

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// PreflightCase is a set of modules made from a kernel's own to meet one
// of the checks the kernel makes when it loads a module: preflight's
// tests check them on the host and load them in the VM.
type PreflightCase struct {
	// Name names the case.
	Name string
	// Files are the case's module files (unsigned, uncompressed), by
	// file name, unique among the cases (dummy_crc.ko; macvlan.ko and
	// macvtap.ko): a preflight check and a VM take them all at once
	// (the kernel's name of each dummy variant is still dummy).
	Files map[string][]byte
	// Want is, by file name, how the kernel takes the module: "" when
	// it loads, else the check it fails: "vermagic", "crc", "unknown",
	// "namespace", "dependency" (a module of the case it needs fails).
	Want map[string]string
}

// PreflightCases returns the cases made from a kernel's own dummy,
// macvlan, macvtap and ums_alauda, given as ELF images by module name:
// dummy as it is (loads); its vermagic's release changed (loads: with
// modversions the kernel compares what follows the release); a vermagic
// flag changed; an imported symbol's CRC changed; module_layout's CRC
// changed; an imported symbol renamed to one nobody exports; its license
// made one not GPL-compatible (its GPL-only imports are unknown then);
// ums_alauda importing another namespace than USB_STORAGE, whose symbols
// it uses; and macvtap with a macvlan whose CRC of a symbol is changed.
func PreflightCases(images map[string][]byte) ([]PreflightCase, error) {
	dummy := Unsigned(images["dummy"])
	macvlan, macvtap := Unsigned(images["macvlan"]), Unsigned(images["macvtap"])
	alauda := Unsigned(images["ums_alauda"])
	if len(dummy) == 0 || len(macvlan) == 0 || len(macvtap) == 0 || len(alauda) == 0 {
		return nil, errors.New("preflight cases need dummy, macvlan, macvtap and ums_alauda")
	}
	magic, err := vermagic(dummy)
	if err != nil {
		return nil, err
	}
	release, flags, _ := strings.Cut(magic, " ")
	otherRelease := string(rune('1'+(release[0]-'0')%8)) + release[1:]
	type mutation struct {
		name, want string
		make       func() ([]byte, error)
	}
	firstCRC := func(img []byte) (string, uint64, error) {
		syms, err := versions(img)
		for _, s := range syms {
			if s.name != "module_layout" {
				return s.name, s.crc, err
			}
		}
		return "", 0, errors.New("no __versions entry but module_layout")
	}
	sym, crc, err := firstCRC(dummy)
	if err != nil {
		return nil, err
	}
	layout := uint64(0)
	syms, _ := versions(dummy)
	for _, s := range syms {
		if s.name == "module_layout" {
			layout = s.crc
		}
	}
	muts := []mutation{
		{"own", "", func() ([]byte, error) { return dummy, nil }},
		{"release", "", func() ([]byte, error) {
			return WithString(dummy, "vermagic="+release+" ", "vermagic="+otherRelease+" ")
		}},
		{"vermagic", "vermagic", func() ([]byte, error) {
			return WithString(dummy, "vermagic="+release+" "+flags, "vermagic="+release+" "+strings.Replace(flags, "mod_unload", "mod_unlaod", 1))
		}},
		{"crc", "crc", func() ([]byte, error) { return WithVersionCRC(dummy, sym, crc^1) }},
		{"layout", "crc", func() ([]byte, error) { return WithVersionCRC(dummy, "module_layout", layout^1) }},
		{"unknown", "unknown", func() ([]byte, error) {
			return WithString(dummy, sym+"\x00", sym[:len(sym)-1]+string(rune(sym[len(sym)-1]^1))+"\x00")
		}},
	}
	muts = append(muts, mutation{"license", "unknown", func() ([]byte, error) {
		return WithString(dummy, "license=GPL\x00", "license=XPL\x00")
	}})
	var out []PreflightCase
	ns, err := WithString(alauda, "import_ns=USB_STORAGE\x00", "import_ns=USB_STORAGX\x00")
	if err != nil {
		return nil, fmt.Errorf("preflight case namespace: %w", err)
	}
	out = append(out, PreflightCase{Name: "namespace", Files: map[string][]byte{"ums_alauda_ns.ko": ns}, Want: map[string]string{"ums_alauda_ns.ko": "namespace"}})
	for _, m := range muts {
		img, err := m.make()
		if err != nil {
			return nil, fmt.Errorf("preflight case %s: %w", m.name, err)
		}
		file := "dummy_" + m.name + ".ko"
		out = append(out, PreflightCase{Name: m.name, Files: map[string][]byte{file: img}, Want: map[string]string{file: m.want}})
	}
	vsym, vcrc, err := firstCRC(macvlan)
	if err != nil {
		return nil, err
	}
	badMacvlan, err := WithVersionCRC(macvlan, vsym, vcrc^1)
	if err != nil {
		return nil, err
	}
	out = append(out, PreflightCase{
		Name:  "dependency",
		Files: map[string][]byte{"macvlan.ko": badMacvlan, "macvtap.ko": macvtap},
		Want:  map[string]string{"macvlan.ko": "crc", "macvtap.ko": "dependency"},
	})
	return out, nil
}

// vermagic returns the image's vermagic= value.
func vermagic(img []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return "", err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return "", errors.New("no .modinfo")
	}
	data, err := sec.Data()
	if err != nil {
		return "", err
	}
	for kv := range bytes.SplitSeq(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("vermagic=")); ok {
			return string(v), nil
		}
	}
	return "", errors.New("no vermagic")
}

type version struct {
	name string
	crc  uint64
}

// versions returns the image's __versions entries.
func versions(img []byte) ([]version, error) {
	_, entries, err := versionsAt(img)
	return entries, err
}

// versionsAt returns the file offset of a 64-bit image's __versions
// section and its entries.
func versionsAt(img []byte) (uint64, []version, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return 0, nil, err
	}
	sec := f.Section("__versions")
	if sec == nil || f.Class != elf.ELFCLASS64 {
		return 0, nil, errors.New("no 64-bit __versions section")
	}
	data, err := sec.Data()
	if err != nil {
		return 0, nil, err
	}
	var out []version
	for off := 0; off+64 <= len(data); off += 64 {
		name, _, _ := bytes.Cut(data[off+8:off+64], []byte{0})
		out = append(out, version{string(name), binary.LittleEndian.Uint64(data[off:])})
	}
	return sec.Offset, out, nil
}
