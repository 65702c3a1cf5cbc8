package modprobe

// How a module file reaches the kernel, and when a second try is safe.
//
// A module's init function runs inside the system call that loads it, at
// the end of load_module (kernel/module/main.c). Once the kernel has read
// and decompressed a module, any errno may come from there: EINVAL from a
// bad parameter value or from the init itself (bonding with mode=bogus),
// EOPNOTSUPP from an init that finds no hardware support (kvm_intel
// without VMX), even ENOSYS. Loading the module again after such an
// answer runs its init again. So the Loader retries only an answer the
// kernel gives before it has loaded anything:
//
//   - ENOSYS from finit_module(2) when the system call is missing: Linux
//     before 3.8, or a seccomp filter that answers so. Any other ENOSYS
//     is the module's. The Loader tells them apart by asking the kernel
//     (Kernel.FinitModule with a nil file, a file descriptor of -1): a
//     kernel with finit_module answers EBADF (EPERM without
//     CAP_SYS_MODULE) without loading or logging anything.
//   - MODULE_INIT_COMPRESSED_FILE (4) exists since Linux 5.17 (commit
//     b1ae6dc41eaa). Before 5.17 finit_module refuses it, as any unknown
//     flag, with EINVAL before reading the file; from 5.17, a kernel built
//     without CONFIG_MODULE_DECOMPRESS answers EOPNOTSUPP, also before
//     loading. Only a kernel built with it, from Linux 6.4 on, has
//     /sys/module/compression (with sysfs), naming the one format it
//     decompresses: gzip or xz from 5.17, zstd from 6.2. The Loader offers a compressed module to
//     the kernel only when /sys/module/compression names its format: so
//     these two answers never come from the flag, and EINVAL and
//     EOPNOTSUPP after an offer are the module's (or load_module's),
//     returned as they are.
//   - EINVAL from the kernel's decompressor (kernel/module/decompress.c):
//     it logs one line without prefix, the same texts from 5.17 to current
//     mainline (see kernelDecompressFailure), and answers EINVAL before
//     load_module. The Loader reads the kernel log (Options.KmsgPath)
//     across each offer and retries EINVAL only when one of those lines
//     is there, and more of them than other offers of the same Loader in
//     flight at the time could have written. No readable log, no retry:
//     the EINVAL is returned. ENOMEM from the decompressor is not retried.
//
// What the kernel's decompressor is known to refuse (kernelRefusal: an xz
// check other than none or CRC32, gzip header fields other than a name)
// is never offered: the Loader decompresses such a file itself and uses
// init_module(2), as kmod 34 does for a format the kernel does not name.
// kmod 34 itself retries with init_module on ENOSYS only, whatever sent
// it, and returns the kernel's EINVAL for an xz file with CRC64 (Linux
// logs "decompression failed with status 6").
//
// The force flags follow kmod 34: finit_module gets
// MODULE_INIT_IGNORE_VERMAGIC and MODULE_INIT_IGNORE_MODVERSIONS (with
// the compressed flag for a file the kernel decompresses) and the kernel
// skips its checks, taking a signed module for an unsigned one; on the
// init_module path the Loader strips vermagic= and __versions from its
// copy of the image first, as kmod's do_init_module does, and the kernel
// refuses a signed module so changed (EKEYREJECTED).
//
// Seen on Debian 13's 6.12 (xz) under qemu: "modprobe bonding mode=bogus"
// logs "Invalid bonding mode" once and fails with EINVAL, forced or not
// (retrying EINVAL logged it twice, and forced, ended in EKEYREJECTED);
// xz files with CRC64 or SHA-256 load without the kernel's "decompression
// failed with status 6"; a truncated xz file makes the kernel log
// "decompression failed with status 0", and the Loader's own
// decompression then reports the truncation.
//
// What remains uncertain: the kernel log does not say which process a
// line belongs to (Debian's kernels have no CONFIG_PRINTK_CALLER), so a
// decompression failure of another program's load, logged in the same
// instant as a module's own EINVAL, would be taken for this one's.

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"syscall"

	"github.com/gokmod/modprobe/internal/fileio"

	"github.com/gokmod/modprobe/internal/kernel"
	"github.com/gokmod/modprobe/internal/modfile"
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
func (l *Loader) kernelCompression() modfile.Compression {
	l.compOnce.Do(func() {
		s, err := kernel.ReadCompression(l.sysfs)
		if err != nil || s == "" {
			return
		}
		if c, ok := modfile.ParseCompression(s + "\n"); ok {
			l.kernComp = c
		} else {
			l.log.errorf(context.Background(), eventCompression, "unknown kernel compression %s", s)
		}
	})
	return l.kernComp
}

// insertFile inserts the module file at path, as libkmod's
// kmod_module_insert_module does, deciding the path as the comment at
// the top of this file says: a plain file goes to finit_module; a
// compressed one too, with InitCompressedFile, when the kernel
// decompresses its format and nothing in it is known to stop the
// kernel's decompressor; otherwise the Loader decompresses it and calls
// init_module. init_module follows a finit_module only when the kernel
// certainly loaded nothing.
//
// The error is a syscall.Errno for what the kernel refused, or a
// descriptive error (wrapping ErrTooLarge, a decompression failure or a
// read failure) otherwise. logs keeps the kernel log descriptors of the
// load run the insert belongs to (nil: none).
func (l *Loader) insertFile(path, params string, flags insertFlags, logs *kernelLogs) error {
	f, err := fileio.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	comp, err := modfile.SniffFile(f, path)
	if err != nil {
		return err
	}
	switch {
	case comp == modfile.None:
		err := l.kern.FinitModule(f, params, flags.kernelFlags())
		if !errors.Is(err, syscall.ENOSYS) || !l.finitMissing() {
			return err
		}
	case comp == l.kernelCompression() && kernelRefusal(f, comp) == "":
		if retry, err := l.offerCompressed(f, comp, params, flags, logs); !retry {
			return err
		}
	}
	image, err := modfile.ReadImage(f, path, comp, l.maxModuleSize)
	if err != nil {
		return err
	}
	return l.initModule(path, image, params, flags)
}

// offerCompressed gives the compressed file f to finit_module for the
// kernel to decompress, and reports whether the answer leaves the module
// certainly unloaded, so that init_module may follow. The kernel log
// comes from logs, positioned at its end before the offer.
func (l *Loader) offerCompressed(f *os.File, comp modfile.Compression, params string, flags insertFlags, logs *kernelLogs) (retry bool, err error) {
	offer := l.offers.begin()
	klog, lerr := logs.take(l.kmsgPath)
	if lerr != nil {
		klog = nil
	} else {
		defer logs.put(klog)
	}
	err = l.kern.FinitModule(f, params, flags.kernelFlags()|InitCompressedFile)
	failures := -1 // the decompressor's lines in the log; -1: not read
	if errors.Is(err, syscall.EINVAL) && klog != nil {
		if msgs, rerr := klog.ReadNew(); rerr == nil {
			failures = 0
			for _, m := range msgs {
				if kernelDecompressFailure(comp, m) {
					failures++
				}
			}
		}
	}
	rivals := l.offers.end(offer, err)
	switch {
	case errors.Is(err, syscall.ENOSYS):
		return l.finitMissing(), err
	case errors.Is(err, syscall.EINVAL):
		return failures > rivals, err
	}
	return false, err
}

// finitMissing asks the kernel whether finit_module exists, after it
// answered ENOSYS: with a nil file (descriptor -1) a kernel that has it
// answers EBADF, or EPERM, without loading anything.
func (l *Loader) finitMissing() bool {
	return errors.Is(l.kern.FinitModule(nil, "", 0), syscall.ENOSYS)
}

// initModule loads an image with init_module, first stripping what the
// force flags ask kmod to strip.
func (l *Loader) initModule(path string, image []byte, params string, flags insertFlags) error {
	if flags.modversion {
		if err := modfile.StripModversions(image); err != nil {
			l.log.log(context.Background(), slog.LevelInfo, eventStripModver, "Failed to strip modversion: "+errText(err))
		}
	}
	if flags.vermagic {
		if err := modfile.StripVermagic(image); err != nil {
			l.log.log(context.Background(), slog.LevelInfo, eventStripVermag, "Failed to strip vermagic: "+errText(err))
		}
	}
	return l.kern.InitModule(image, params)
}
