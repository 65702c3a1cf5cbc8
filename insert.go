package modprobe

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/gokmod/modprobe/internal/fileio"

	"github.com/gokmod/modprobe/internal/kernel"
)

// insertFlags are the force flags of one insert.
type insertFlags struct {
	vermagic, modversion bool
}

func (f insertFlags) kernelFlags() InitFlags {
	var k InitFlags
	if f.vermagic {
		k |= InitIgnoreVermagic
	}
	if f.modversion {
		k |= InitIgnoreModversions
	}
	return k
}

// kernelCompression returns the format the kernel decompresses modules
// in, read once from /sys/module/compression.
func (l *Loader) kernelCompression() compression {
	l.compOnce.Do(func() {
		s, err := kernel.ReadCompression(l.sysfs)
		if err != nil || s == "" {
			return
		}
		if c, ok := parseCompression(s + "\n"); ok {
			l.kernComp = c
		} else {
			l.log.errorf(context.Background(), originCompression, "unknown kernel compression %s", s)
		}
	})
	return l.kernComp
}

// insertFile inserts the module file at path, as libkmod's
// kmod_module_insert_module does, and beyond it:
//
//   - a plain file always goes to finit_module, so that the kernel sees
//     the file (LoadPin, IMA); only ENOSYS (no finit_module) falls back to
//     init_module;
//   - a compressed file goes to finit_module with InitCompressedFile when
//     the kernel decompresses that format; when it does not, or refuses
//     the file (ENOSYS, EOPNOTSUPP, EINVAL from a kernel that does not
//     know the flag or whose decompressor fails, as for xz with CRC64),
//     gokmod decompresses it and calls init_module.
//
// The error is a syscall.Errno for what the kernel refused, or a
// descriptive error (wrapping ErrTooLarge, a decompression failure or a
// read failure) otherwise.
func (l *Loader) insertFile(path, params string, flags insertFlags) error {
	f, err := fileio.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	comp, err := sniffFile(f, path)
	if err != nil {
		return err
	}
	if comp == compNone {
		err := l.kern.FinitModule(f, params, flags.kernelFlags())
		if !errors.Is(err, syscall.ENOSYS) {
			return err
		}
	} else if comp == l.kernelCompression() {
		err := l.kern.FinitModule(f, params, flags.kernelFlags()|InitCompressedFile)
		if !kernelRefusedCompressed(err) {
			return err
		}
	}
	image, err := readImage(f, path, comp, l.maxModuleSize)
	if err != nil {
		return err
	}
	return l.initModule(path, image, params, flags)
}

// kernelRefusedCompressed reports whether finit_module's answer to a
// compressed file means "decompress it yourself".
func kernelRefusedCompressed(err error) bool {
	return errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EINVAL)
}

// initModule loads an image with init_module, first stripping what the
// force flags ask kmod to strip.
func (l *Loader) initModule(path string, image []byte, params string, flags insertFlags) error {
	if flags.modversion {
		if err := stripModversions(image); err != nil {
			l.log.log(context.Background(), slog.LevelInfo, originStripModver, "Failed to strip modversion: "+errText(err))
		}
	}
	if flags.vermagic {
		if err := stripVermagic(image); err != nil {
			l.log.log(context.Background(), slog.LevelInfo, originStripVermag, "Failed to strip vermagic: "+errText(err))
		}
	}
	return l.kern.InitModule(image, params)
}
