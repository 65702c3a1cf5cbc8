package modfile

import (
	"bytes"
	"debug/elf"
	"errors"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

func TestStripForcedLoads(t *testing.T) {
	for _, class := range []testmod.Class{testmod.ELF64LSB, testmod.ELF64MSB, testmod.ELF32LSB, testmod.ELF32MSB} {
		t.Run(class.String(), func(t *testing.T) {
			m := &testmod.Module{
				Name:     "m",
				Class:    class,
				ModInfo:  []string{testmod.License("GPL"), testmod.Vermagic("6.1.0 SMP mod_unload"), testmod.NameInfo("m")},
				Versions: []testmod.VersionEntry{{CRC: 1, Name: "printk"}},
			}
			img, err := m.ELF()
			if err != nil {
				t.Fatal(err)
			}
			if err := StripModversions(img); err != nil {
				t.Fatal(err)
			}
			if err := StripVermagic(img); err != nil {
				t.Fatal(err)
			}
			f, err := elf.NewFile(bytes.NewReader(img))
			if err != nil {
				t.Fatal(err)
			}
			if s := f.Section("__versions"); s == nil || s.Flags&elf.SHF_ALLOC != 0 {
				t.Errorf("__versions still allocated: %+v", s)
			}
			info, err := f.Section(".modinfo").Data()
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(info, []byte("vermagic=")) || !bytes.Contains(info, []byte("license=GPL\x00")) || !bytes.Contains(info, []byte("name=m\x00")) {
				t.Errorf(".modinfo after stripping: %q", info)
			}
			// a second strip finds no vermagic
			if err := StripVermagic(img); !errors.Is(err, syscall.ENOENT) {
				t.Errorf("second strip: %v", err)
			}
		})
	}
	if err := StripVermagic([]byte("not an ELF file")); !errors.Is(err, syscall.ENOEXEC) {
		t.Errorf("garbage: %v", err)
	}
	img, _ := (&testmod.Module{Name: "x"}).ELF()
	if err := StripModversions(img); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("no __versions: %v", err)
	}
}
