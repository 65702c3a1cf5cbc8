package vmtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/klauspost/compress/zstd"
)

// KernelPath returns the kernel image ROOT/boot/vmlinuz-RELEASE.
func KernelPath(root, release string) string {
	return filepath.Join(root, "boot", "vmlinuz-"+release)
}

// errNoPVH reports a kernel that qemu cannot boot as an ELF file.
var errNoPVH = errors.New("no PVH entry point")

// BootKernel returns the kernel for Machine.Kernel that boots fastest.
// Under TCG a compressed kernel spends seconds decompressing itself, so
// BootKernel extracts the ELF vmlinux from the bzImage vmlinuz into dir
// (about 70 MB; the host's xz decompresses Debian 12's payload, the zstd
// package Debian 13's), which qemu
// boots directly through its PVH entry point. When that is impossible (an
// unknown payload compression, no PVH entry point) it returns vmlinuz
// itself and the reason in err, for the caller to log; the path is usable
// either way.
func BootKernel(ctx context.Context, vmlinuz, dir string) (kernel string, err error) {
	out := filepath.Join(dir, "vmlinux")
	if err := extractVmlinux(ctx, vmlinuz, out); err != nil {
		os.Remove(out)
		return vmlinuz, fmt.Errorf("vmtest: booting the compressed kernel: %w", err)
	}
	return out, nil
}

// extractVmlinux writes the ELF kernel inside the bzImage vmlinuz to out
// and checks that it has a PVH entry point.
func extractVmlinux(ctx context.Context, vmlinuz, out string) error {
	// Not an input: the Debian kernel the suite downloaded and checked.
	img, err := os.ReadFile(vmlinuz)
	if err != nil {
		return err
	}
	payload, err := bzImagePayload(img)
	if err != nil {
		return fmt.Errorf("%s: %w", vmlinuz, err)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	err = decompressPayload(ctx, payload, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", vmlinuz, err)
	}
	return checkPVH(out)
}

// bzImagePayload returns the compressed kernel of a bzImage: the setup
// header (boot protocol 2.08 or later) places it payload_offset bytes into
// the protected-mode code, which follows the setup sectors.
func bzImagePayload(img []byte) ([]byte, error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage")
	}
	if v := binary.LittleEndian.Uint16(img[0x206:]); v < 0x208 {
		return nil, fmt.Errorf("boot protocol %#x has no payload fields", v)
	}
	setupSects := int(img[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	start := (setupSects + 1) * 512
	off := int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	if off < 0 || n <= 0 || start+off+n > len(img) || start+off+n < start {
		return nil, errors.New("payload out of bounds")
	}
	return img[start+off : start+off+n], nil
}

// decompressPayload decompresses a kernel payload (xz, zstd or gzip, chosen
// by magic bytes) to w. The payload ends with the uncompressed size (four
// bytes, kbuild's size_append), which the decompressors must ignore.
func decompressPayload(ctx context.Context, payload []byte, w io.Writer) error {
	switch {
	case bytes.HasPrefix(payload, []byte("\xfd7zXZ\x00")):
		xz, err := testmod.FindTool("xz")
		if err != nil {
			return fmt.Errorf("%w (Debian package xz-utils)", err)
		}
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, xz, "-dc", "--single-stream")
		cmd.Stdin = bytes.NewReader(payload)
		cmd.Stdout = w
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("xz: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	case bytes.HasPrefix(payload, []byte("\x28\xb5\x2f\xfd")) && len(payload) > 4:
		// kbuild's zstd22: one frame of "zstd -22 --ultra" (a 128 MiB
		// window at most), then the size.
		zr, err := zstd.NewReader(bytes.NewReader(payload[:len(payload)-4]),
			zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return err
		}
		defer zr.Close()
		_, err = io.Copy(w, zr)
		return err
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return err
		}
		zr.Multistream(false)
		_, err = io.Copy(w, zr)
		return err
	}
	return fmt.Errorf("unsupported payload compression (magic % x)", payload[:min(len(payload), 6)])
}

// checkPVH reports errNoPVH unless the ELF file name carries the Xen note
// XEN_ELFNOTE_PHYS32_ENTRY (18), the PVH entry point qemu boots.
func checkPVH(name string) error {
	f, err := elf.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		// Bounded by the segment's size in that kernel.
		notes, err := io.ReadAll(p.Open())
		if err != nil {
			return err
		}
		found := false
		elfNotes(notes, f.ByteOrder, func(owner string, typ uint32, _ []byte) bool {
			found = typ == 18 && owner == "Xen"
			return !found
		})
		if found {
			return nil
		}
	}
	return fmt.Errorf("%s: %w", name, errNoPVH)
}
