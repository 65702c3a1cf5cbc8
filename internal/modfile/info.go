package modfile

import (
	"fmt"

	"github.com/gokmod/modprobe/internal/elfmod"
)

// maxPartsBuffer bounds the memory for a plain file's parts that a
// Buffer keeps for the next file: a larger one (a file with a huge
// section table or .modinfo) is let go.
const maxPartsBuffer = 1 << 20

// ReadInfo is kmod_module_get_info for the module file at path: its
// .modinfo entries, then its signature's (see elfmod.ReadInfo). A plain
// file is read only in the parts those need, into memory b keeps for
// the next file; a compressed one is decoded into b (a nil b allocates)
// and parsed whole. maxSize bounds the ELF image, as for Map.
func (b *Buffer) ReadInfo(path string, maxSize int64) ([]elfmod.KeyValue, error) {
	f, comp, err := openModule(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if comp == None && f.Size() <= maxSize {
		var parts []byte
		if b != nil {
			parts = b.parts
		}
		info, parts, err := elfmod.ReadInfo(f, f.Size(), parts)
		if b != nil && cap(parts) <= maxPartsBuffer {
			b.parts = parts
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return info, nil
	}
	image, err := decodeFile(b, f, f.Size(), path, comp, maxSize)
	if err != nil {
		return nil, err
	}
	elf, err := elfmod.Parse(image)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	info, err := elf.Modinfo()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sig, ok := elfmod.ParseSignature(image); ok {
		info = append(info, sig.Info()...)
	}
	return info, nil
}
