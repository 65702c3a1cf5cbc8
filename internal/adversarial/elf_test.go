package adversarial_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/elfmod"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/modprobetest"
)

// advELF returns the image of module name with mutate applied to it;
// shdr returns the file offset of the header of the named section.
func advELF(t *testing.T, name string, mutate func(img []byte, shdr func(string) int)) []byte {
	t.Helper()
	m := &testmod.Module{
		Name:     name,
		ModInfo:  testmod.StandardModInfo(name, testmod.DefaultVermagic(advRelease)),
		Exports:  []string{name + "_fn"},
		Versions: []testmod.VersionEntry{{CRC: 1, Name: "module_layout"}},
	}
	img, err := m.ELF()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	shoff := int(binary.LittleEndian.Uint64(img[0x28:]))
	shdr := func(sec string) int {
		for i, s := range f.Sections {
			if s.Name == sec {
				return shoff + 64*i
			}
		}
		t.Fatalf("no section %s", sec)
		return 0
	}
	mutate(img, shdr)
	return img
}

// ELF64 header and section header fields.
const (
	advEShoff     = 0x28
	advEShnum     = 0x3c
	advEShstrndx  = 0x3e
	advShName     = 0
	advShOffset   = 24
	advShSize     = 32
	advELFEntries = 0x3a
)

// advBogusELFs are the corrupted modules, by file name.
var advBogusELFs = []struct {
	file   string
	mutate func(img []byte, shdr func(string) int)
}{
	{"shoff.ko", func(img []byte, _ func(string) int) { binary.LittleEndian.PutUint64(img[advEShoff:], 1<<62) }},
	{"shnum.ko", func(img []byte, _ func(string) int) { binary.LittleEndian.PutUint16(img[advEShnum:], 0xffff) }},
	{"shstrndx.ko", func(img []byte, _ func(string) int) { binary.LittleEndian.PutUint16(img[advEShstrndx:], 0xfffe) }},
	{"shentsize.ko", func(img []byte, _ func(string) int) { binary.LittleEndian.PutUint16(img[advELFEntries:], 8) }},
	{"modinfo-offset.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint64(img[shdr(".modinfo")+advShOffset:], uint64(len(img))+4096)
	}},
	{"modinfo-wrap.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint64(img[shdr(".modinfo")+advShOffset:], ^uint64(0)-16)
		binary.LittleEndian.PutUint64(img[shdr(".modinfo")+advShSize:], 64)
	}},
	{"versions-size.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint64(img[shdr("__versions")+advShSize:], 1<<40)
	}},
	{"symtab-size.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint64(img[shdr(".symtab")+advShSize:], ^uint64(0))
	}},
	{"shname.ko", func(img []byte, shdr func(string) int) {
		binary.LittleEndian.PutUint32(img[shdr(".modinfo")+advShName:], 0xfffffff0)
	}},
	{"truncated.ko", nil},
}

// advBogusTree writes every bogus ELF of advBogusELFs under kernel/bogus/
// (xz-compressed with compress), each with its modules.dep line.
func advBogusTree(t *testing.T, compress bool) *advEnv {
	e := advTree(t, modprobetest.Module{Name: "a"})
	var dep strings.Builder
	dep.WriteString("kernel/a.ko:\n")
	for _, b := range advBogusELFs {
		name := strings.TrimSuffix(b.file, ".ko")
		var img []byte
		if b.mutate == nil {
			img = advELF(t, name, func([]byte, func(string) int) {})
			img = img[:len(img)/2]
		} else {
			img = advELF(t, name, b.mutate)
		}
		rel := "kernel/bogus/" + b.file
		if compress {
			var err error
			if img, err = testmod.Compress(img, testmod.Xz); err != nil {
				t.Fatal(err)
			}
			rel += ".xz"
		}
		e.writeFile(t, rel, string(img))
		fmt.Fprintf(&dep, "%s:\n", rel)
		e.vals[b.file] = rel
	}
	e.writeFile(t, "modules.dep", dep.String())
	return e
}

func advELFCases() []advCase {
	const cat = "elf"
	var cases []advCase
	for _, b := range advBogusELFs {
		name := strings.TrimSuffix(b.file, ".ko")
		cases = append(cases, advCase{
			// The fake kernel parses the image as Linux does and refuses
			// it; elfmod's readers return errors, and the image read back
			// by ReadModuleFile is the file.
			name: "bogus " + name, category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advBogusTree(t, false) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				img, err := modprobe.ReadModuleFile(filepath.Join(e.dir, e.vals[b.file]), 0)
				if err != nil {
					return fmt.Errorf("ReadModuleFile: %w", err)
				}
				if m, err := elfmod.Parse(img); err == nil {
					_, err1 := m.Modinfo()
					_, err2 := m.Exports()
					_, err3 := m.Undefined()
					_, err4 := m.Versions()
					_, err5 := m.ThisModuleName()
					if err1 == nil && err2 == nil && err3 == nil && err4 == nil && err5 == nil {
						return fmt.Errorf("elfmod accepted the bogus image")
					}
				}
				return e.load(ctx, t, name)
			},
			want: advIs(syscall.ENOEXEC),
			post: func(t *testing.T, e *advEnv) {
				if n := len(e.k.Inserts()); n > 1 {
					t.Errorf("%d inserts", n)
				}
			},
		})
	}
	return append(cases,
		advCase{
			// Forced loads of compressed images go through init_module,
			// after gokmod edits its copy of the image (strip vermagic and
			// __versions): a bogus image must be reported (the edit
			// skipped), the fake kernel must refuse each (ENOEXEC), and
			// the files on disk stay as they were.
			name: "forced load of bogus compressed images", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advBogusTree(t, true) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				l, err := e.loader(t)
				if err != nil {
					return err
				}
				var errs []error
				for _, b := range advBogusELFs {
					err := l.LoadWith(ctx, strings.TrimSuffix(b.file, ".ko"), nil, modprobe.LoadOptions{ForceVermagic: true, ForceModversion: true})
					if !errors.Is(err, syscall.ENOEXEC) {
						errs = append(errs, fmt.Errorf("%s: %v, want ENOEXEC", b.file, err))
					}
				}
				return errors.Join(errs...)
			},
			want: advNoError(),
		},
		advCase{
			// depmod reads every bogus file, logs what it cannot read and
			// indexes the rest.
			name: "depmod over bogus ELF files", category: cat,
			setup: func(t *testing.T, n int) *advEnv { return advBogusTree(t, false) },
			act: func(ctx context.Context, t *testing.T, e *advEnv) error {
				return depmod.Run(ctx, depmod.Options{BaseDir: e.root, Release: advRelease, ConfigPaths: []string{},
					Log: func(_ depmod.Level, msg string) { e.log.add(msg) }})
			},
			want:   advNoError(),
			writes: []string{"lib/modules/" + advRelease + "/modules."},
			post: func(t *testing.T, e *advEnv) {
				dep, err := os.ReadFile(filepath.Join(e.dir, "modules.dep"))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(dep), "kernel/a.ko:") {
					t.Errorf("modules.dep lacks a:\n%s", dep)
				}
				advLogHas("failed to load symbols from "+e.dir+"/kernel/bogus/shoff.ko: Exec format error")(t, e)
			},
		},
	)
}
