package modprobe

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gokmod/modprobe/internal/modfile"
)

// What the kernel's module decompressor (kernel/module/decompress.c,
// Linux 5.17 and later) refuses, and what it logs when it does. See the
// comment at the top of insert.go for how the Loader uses both.

// gzip header flags (RFC 1952) that add fields after the fixed header.
const (
	gzipFHCRC    = 0x02
	gzipFExtra   = 0x04
	gzipFComment = 0x10
)

// kernelRefusal returns why the kernel's decompressor for comp is known
// to refuse the module file r, or "" when nothing says it will:
//
//   - xz: the kernel's XZ Embedded verifies the none and CRC32 checks
//     only. It is built without XZ_DEC_ANY_CHECK (which would skip other
//     checks unverified) and without XZ_USE_CRC64, which
//     include/linux/xz.h refuses inside the kernel; so a stream header
//     naming CRC64, SHA-256 or a reserved check makes xz_dec_run answer
//     XZ_OPTIONS_ERROR ("decompression failed with status 6") on every
//     kernel from 5.17 to current mainline. kbuild writes CRC32 (xz --check=crc32),
//     as do Debian 13's 4230 .ko.xz files; xz's own default is CRC64.
//   - gzip: module_gzip_header_len skips the 10-byte header and a file
//     name (FNAME), nothing else: with FHCRC, FEXTRA or FCOMMENT set, the
//     field is inflated as deflate data and fails (gzip(1) writes none of
//     them).
//   - zstd: nothing is refused up front. The kernel reads the first
//     frame's header, refuses a window over 1<<ZSTD_WINDOWLOG_MAX (31
//     bits on 64-bit kernels, 30 on 32-bit; gokmod's own decoder stops at
//     128 MiB anyway) and a frame needing a dictionary fails while
//     decoding: both are logged, and both fail in gokmod's decoder too.
//
// A header that is corrupt is not judged here: the kernel says so in its
// log, and the decompression that follows in gokmod reports it.
// Concatenated streams, members or frames are not refused either: the
// kernel decodes the first one only, and an image cut short fails in
// load_module (ENOEXEC), before any init function runs; kbuild never
// writes them.
func kernelRefusal(r io.ReaderAt, comp modfile.Compression) string {
	switch comp {
	case modfile.XZ:
		check, ok := modfile.XZStreamCheck(r)
		if ok && check > 0x01 {
			return fmt.Sprintf("its xz check is %s; the kernel's xz decoder verifies none and CRC32 only", xzCheckName(check))
		}
	case modfile.Gzip:
		var h [4]byte
		if modfile.ReadAtFull(r, h[:], 0) != nil {
			return ""
		}
		if f := h[3] & (gzipFHCRC | gzipFExtra | gzipFComment); f != 0 {
			return fmt.Sprintf("its gzip header has flags 0x%02x (FHCRC, FEXTRA or FCOMMENT), which the kernel's gzip decoder does not skip", f)
		}
	}
	return ""
}

// xzCheckName names an xz check type as xz --list does.
func xzCheckName(id byte) string {
	switch id {
	case 0x00:
		return "None"
	case 0x01:
		return "CRC32"
	case 0x04:
		return "CRC64"
	case 0x0a:
		return "SHA-256"
	}
	return fmt.Sprintf("Unknown-%d", id)
}

// kernelDecompressFailure reports whether msg, a kernel log message
// without its record header, is one of the lines the kernel's
// decompressor for comp logs when it fails and finit_module answers
// EINVAL. decompress.c defines no pr_fmt, so the lines carry no prefix;
// their texts are the same from 5.17 (gzip, xz) and 6.2 (zstd) to current
// mainline (checked in the Debian 13 6.12 kernel's image and log too).
func kernelDecompressFailure(comp modfile.Compression, msg string) bool {
	switch comp {
	case modfile.Gzip:
		return msg == "not a gzip compressed module" ||
			hasIntSuffix(msg, "failed to initialize decompressor: ") ||
			hasIntSuffix(msg, "decompression failed with status ")
	case modfile.XZ:
		return msg == "not an xz compressed module" ||
			hasIntSuffix(msg, "decompression failed with status ")
	case modfile.Zstd:
		return msg == "not a zstd compressed module" ||
			msg == "ZSTD-compressed data has an incomplete frame header" ||
			msg == "ZSTD-compressed data has too large a window size" ||
			hasIntSuffix(msg, "ZSTD-decompression failed with status ")
	}
	return false
}

// hasIntSuffix reports whether s is prefix followed by a decimal integer
// (printk's %d).
func hasIntSuffix(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return false
	}
	_, err := strconv.Atoi(rest)
	return err == nil
}
