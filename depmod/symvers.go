package depmod

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/gokmod/modprobe/internal/cscan"
)

// loadSymvers is depmod_load_symvers: the vmlinux lines of a
// Module.symvers ("0xCRC\tSYMBOL\tvmlinux\tEXPORT_SYMBOL") give the
// kernel's symbols and their CRCs.
func (r *run) loadSymvers(path string) error {
	data, err := readText(path)
	if err != nil {
		return err
	}
	for n, line := range cscan.Lines(data, 10240) {
		fields := strings.FieldsFunc(cscan.CString(string(line)), func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) < 3 || fields[2] != "vmlinux" {
			continue
		}
		ver := fields[0]
		crc, ok := parseHexCRC(ver)
		if !ok {
			r.errorf("%s:%d Invalid symbol version %s: %s", path, n+1, ver, "Success")
			continue
		}
		r.addSymbol(fields[1], false, crc, nil)
	}
	r.addFakeSymbols()
	return nil
}

// parseHexCRC is strtoull(s, &end, 16) with nothing left after it
// (ULLONG_MAX for a value over 64 bits, as strtoull gives).
func parseHexCRC(s string) (uint64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') && isHex(t[2]) {
		t = t[2:]
	}
	if t == "" {
		return 0, s == ""
	}
	v, err := strconv.ParseUint(t, 16, 64)
	if errors.Is(err, strconv.ErrRange) {
		// strtoull consumes every digit of a value too large for it and
		// returns ULLONG_MAX, whatever the sign: kmod keeps that CRC if
		// only digits follow (ParseUint stops at the overflow).
		return math.MaxUint64, strings.IndexFunc(t, func(r rune) bool { return r > 0x7f || !isHex(byte(r)) }) < 0
	}
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// loadSystemMap is depmod_load_system_map: the __ksymtab_ symbols of a
// System.map ("ADDRESS TYPE NAME") are the kernel's.
func (r *run) loadSystemMap(path string) error {
	data, err := readText(path)
	if err != nil {
		return err
	}
	const ksym = "__ksymtab_"
	for n, line := range cscan.Lines(data, 10240) {
		s := cscan.CString(string(line))
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			r.errorf("%s:%d: invalid line: %s", path, n+1, s)
			continue
		}
		j := strings.IndexByte(s[i+1:], ' ')
		if j < 0 {
			r.errorf("%s:%d: invalid line: %s", path, n+1, s)
			continue
		}
		p := s[i+1+j+1:]
		if p != "" && p[0] == r.opts.SymPrefix {
			p = p[1:]
		}
		if !strings.HasPrefix(p, ksym) {
			continue
		}
		if k := strings.IndexByte(p, '\n'); k >= 0 {
			p = p[:k]
		}
		r.addSymbol(p[len(ksym):], true, 0, nil)
	}
	r.addFakeSymbols()
	return nil
}

// addFakeSymbols is depmod_add_fake_syms: symbols the kernel's loader
// provides.
func (r *run) addFakeSymbols() {
	r.addSymbol("__this_module", true, 0, nil)
	r.addSymbol("_GLOBAL_OFFSET_TABLE_", true, 0, nil)
	if r.findSymbol("TOC.") == nil {
		r.addSymbol("TOC.", true, 0, nil)
	}
}
