package modprobetest

import (
	"bytes"
	"compress/flate"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxImage bounds the module images the fake accepts, as the kernel's
// own limit does.
const maxImage = 1 << 30

// FinitModule loads the module in f, as finit_module(2). A nil f is
// descriptor -1: EBADF (ENOSYS when finit_module is missing), and not
// recorded.
func (k *Kernel) FinitModule(f *os.File, params string, flags modprobe.InitFlags) error {
	k.mu.Lock()
	noFinit := k.noFinit
	k.mu.Unlock()
	switch {
	case noFinit && f == nil:
		return syscall.ENOSYS
	case f == nil:
		return syscall.EBADF
	}
	ins := Insert{Params: params, Flags: flags, File: f.Name(), Compressed: flags&modprobe.InitCompressedFile != 0}
	if noFinit {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.record(ins, syscall.ENOSYS)
	}
	st, err := f.Stat()
	if err != nil {
		return syscall.EBADF
	}
	if st.Size() > maxImage {
		return syscall.EFBIG
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, st.Size()), data); err != nil {
		return syscall.EIO
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if ins.Compressed {
		data, err = k.decompress(ins.File, data)
		if err != nil {
			return k.record(ins, err)
		}
	}
	err = k.load(&ins, data)
	return k.record(ins, err)
}

// InitModule loads the module image, as init_module(2).
func (k *Kernel) InitModule(image []byte, params string) error {
	ins := Insert{Params: params}
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.load(&ins, image)
	return k.record(ins, err)
}

func (k *Kernel) record(ins Insert, err error) error {
	ins.Err = err
	k.inserts = append(k.inserts, ins)
	return err
}

// Status codes the kernel's decompressors report in their failure lines.
const (
	zDataError         = -3 // zlib's Z_DATA_ERROR
	xzOptionsError     = 6  // XZ_OPTIONS_ERROR: an unsupported check, filter or flag
	xzDataError        = 7  // XZ_DATA_ERROR
	zstdCorruptionCode = 20 // ZSTD_error_corruption_detected
)

// decompress is the kernel's module_decompress (kernel/module/decompress.c)
// for the configured format: what it cannot decode it refuses with its
// log line, which has no prefix, and EINVAL. A kernel without a format
// refuses the flag with EINVAL, silently.
func (k *Kernel) decompress(file string, data []byte) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		_ = k.logf(format, args...)
		return nil, syscall.EINVAL
	}
	var r io.Reader
	switch k.compression {
	case "gzip":
		n := gzipHeaderLen(data)
		if n == 0 {
			return fail("not a gzip compressed module")
		}
		if k.failDecomp[file] {
			return fail("decompression failed with status %d", zDataError)
		}
		r = flate.NewReader(bytes.NewReader(data[n:]))
	case "xz":
		if !bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) {
			return fail("not an xz compressed module")
		}
		// The stream flags: a reserved bit, or a check other than none
		// (0) and CRC32 (1), which XZ Embedded does not verify.
		if len(data) < 8 || data[6] != 0 || data[7] > 1 || k.failDecomp[file] {
			status := xzOptionsError
			if k.failDecomp[file] {
				status = xzDataError
			}
			return fail("decompression failed with status %d", status)
		}
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return fail("decompression failed with status %d", xzDataError)
		}
		r = xr
	case "zstd":
		if !bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			return fail("not a zstd compressed module")
		}
		if k.failDecomp[file] {
			return fail("ZSTD-decompression failed with status %d", zstdCorruptionCode)
		}
		d, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fail("ZSTD-compressed data has an incomplete frame header")
		}
		defer d.Close()
		r = d
	default:
		return nil, syscall.EINVAL
	}
	// Bounded: one byte past the largest image the fake kernel takes.
	out, err := io.ReadAll(io.LimitReader(r, maxImage+1))
	if err != nil || len(out) > maxImage {
		switch k.compression {
		case "gzip":
			return fail("decompression failed with status %d", zDataError)
		case "xz":
			return fail("decompression failed with status %d", xzDataError)
		}
		return fail("ZSTD-decompression failed with status %d", zstdCorruptionCode)
	}
	return out, nil
}

// gzipHeaderLen is the kernel's module_gzip_header_len: the 10-byte
// header and, with FNAME, the name up to its NUL byte; nothing else is
// skipped. 0 means the kernel calls it no gzip file.
func gzipHeaderLen(data []byte) int {
	if len(data) < 10 || data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 {
		return 0
	}
	n := 10
	if data[3]&0x08 != 0 {
		i := bytes.IndexByte(data[n:], 0)
		if i < 0 {
			return 0
		}
		n += i + 1
	}
	return n
}

// image is what the fake reads of a module.
type image struct {
	name       string
	depends    []string
	parms      map[string]string // declared parameters and their types (parmtype=)
	vermagic   string
	hasMagic   bool
	srcversion string
}

// readImage reads the module's name and .modinfo, as load_module does:
// the name from .gnu.linkonce.this_module, else from name=.
func readImage(data []byte) (*image, error) {
	mod, err := elfmod.Parse(data)
	if err != nil {
		return nil, err
	}
	if err := checkSections(data); err != nil {
		return nil, err
	}
	img := &image{parms: map[string]string{}}
	info, err := mod.Modinfo()
	if err != nil && !errors.Is(err, elfmod.ErrNoModinfo) {
		return nil, err
	}
	for _, kv := range info {
		switch kv.Key {
		case "name":
			if img.name == "" {
				img.name = kv.Value
			}
		case "depends":
			for _, d := range strings.Split(kv.Value, ",") {
				if d != "" {
					img.depends = append(img.depends, d)
				}
			}
		case "parmtype":
			p, typ, _ := strings.Cut(kv.Value, ":")
			img.parms[p] = typ
		case "vermagic":
			img.vermagic, img.hasMagic = kv.Value, true
		case "srcversion":
			img.srcversion = kv.Value
		}
	}
	if n, err := mod.ThisModuleName(); err == nil && n != "" {
		img.name = n
	}
	if img.name == "" {
		return nil, errors.New("no module name")
	}
	return img, nil
}

// checkSections refuses, as Linux's elf_validity_cache_copy does, an
// image whose section headers do not hold together: a section with file
// contents past the end of the image (or wrapping around), or a name
// outside the section-name table.
func checkSections(data []byte) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %v", syscall.ENOEXEC, err)
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NULL || s.Type == elf.SHT_NOBITS {
			continue
		}
		if end := s.Offset + s.FileSize; end < s.Offset || end > uint64(len(data)) {
			return fmt.Errorf("%w: section %q lies outside the image", syscall.ENOEXEC, s.Name)
		}
	}
	return nil
}

// load is load_module: checks, then the module goes live.
func (k *Kernel) load(ins *Insert, data []byte) error {
	img, err := readImage(data)
	if err != nil {
		_ = k.logf("Invalid ELF header magic or module: %v", err)
		return syscall.ENOEXEC
	}
	ins.Module = img.name
	if k.onInsert != nil {
		if err := k.onInsert(*ins); err != nil {
			return err
		}
	}
	if err := k.failInsert[img.name]; err != nil {
		return err
	}
	if k.vermagic != "" && ins.Flags&modprobe.InitIgnoreVermagic == 0 && img.hasMagic && img.vermagic != k.vermagic {
		_ = k.logf("%s: version magic '%s' should be '%s'", img.name, img.vermagic, k.vermagic)
		return syscall.ENOEXEC
	}
	if k.mods[img.name] != nil {
		return syscall.EEXIST
	}
	for _, d := range img.depends {
		if k.mods[d] == nil {
			_ = k.logf("%s: Unknown symbol from %s (err -2)", img.name, d)
			return syscall.ENOENT
		}
	}
	params, err := parseParams(params(ins.Params))
	if err != nil {
		_ = k.logf("%s: %v", img.name, err)
		return syscall.EINVAL
	}
	for _, p := range sortedKeys(params) {
		typ, ok := img.parms[p]
		if !ok {
			_ = k.logf("%s: unknown parameter '%s' ignored", img.name, p)
			delete(params, p)
			continue
		}
		if !validParam(typ, params[p]) {
			_ = k.logf("%s: `%s' invalid for parameter `%s'", img.name, params[p], p)
			return syscall.EINVAL
		}
	}
	// do_init_module: the init function runs last.
	ins.Init = true
	if err := k.failInit[img.name]; err != nil {
		_ = k.logf("%s: init failed: %v", img.name, err)
		return err
	}
	return k.addLive(img.name, len(data), img.depends, params, img.srcversion)
}

type params string

// parseParams splits a parameter string as the kernel's parse_args does:
// whitespace-separated key=value, double quotes grouping a value (and
// removed).
func parseParams(s params) (map[string]string, error) {
	out := map[string]string{}
	str := string(s)
	for {
		str = strings.TrimLeft(str, " \t\n")
		if str == "" {
			return out, nil
		}
		inQuote := false
		i := 0
		for ; i < len(str); i++ {
			if str[i] == '"' {
				inQuote = !inQuote
			}
			if !inQuote && (str[i] == ' ' || str[i] == '\t' || str[i] == '\n') {
				break
			}
		}
		if inQuote {
			return nil, fmt.Errorf("unbalanced quote in parameters")
		}
		tok := str[:i]
		str = str[i:]
		key, val, _ := strings.Cut(tok, "=")
		key = strings.ReplaceAll(key, "-", "_")
		out[key] = strings.ReplaceAll(val, `"`, "")
	}
}

// DeleteModule removes a module, as delete_module(2).
func (k *Kernel) DeleteModule(name string, flags modprobe.DeleteFlags) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.unload(name, flags)
	k.removes = append(k.removes, Remove{Module: name, Flags: flags, Err: err})
	return err
}

func (k *Kernel) unload(name string, flags modprobe.DeleteFlags) error {
	if err := k.failRemove[name]; err != nil {
		return err
	}
	m := k.mods[name]
	if m == nil {
		return syscall.ENOENT
	}
	if len(m.holder) > 0 {
		return syscall.EWOULDBLOCK
	}
	if m.users > 0 && flags&modprobe.DeleteForce == 0 {
		return syscall.EWOULDBLOCK
	}
	delete(k.mods, name)
	for i, n := range k.order {
		if n == name {
			k.order = append(k.order[:i], k.order[i+1:]...)
			break
		}
	}
	if err := os.RemoveAll(k.SysfsDir() + "/module/" + name); err != nil {
		return syscall.EIO
	}
	for _, d := range m.deps {
		dm := k.mods[d]
		if dm == nil {
			continue
		}
		for i, h := range dm.holder {
			if h == name {
				dm.holder = append(dm.holder[:i], dm.holder[i+1:]...)
				break
			}
		}
		_ = os.Remove(k.SysfsDir() + "/module/" + d + "/holders/" + name)
		if err := k.writeModule(dm); err != nil {
			return syscall.EIO
		}
	}
	return k.writeProcModules()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validParam checks a value against a parmtype, as the kernel's
// param_set_* functions do for the common types.
func validParam(typ, val string) bool {
	switch typ {
	case "int", "long", "short", "byte":
		_, err := strconv.ParseInt(val, 0, 64)
		return err == nil
	case "uint", "ulong", "ushort", "ullong":
		_, err := strconv.ParseUint(val, 0, 64)
		return err == nil
	case "bool", "invbool":
		switch val {
		case "", "y", "Y", "n", "N", "1", "0", "true", "false", "on", "off":
			return true
		}
		return false
	}
	return true
}
