package vmtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// File type bits of a cpio mode field (the st_mode values of Linux).
const (
	cpioDir     = 0o040000
	cpioChar    = 0o020000
	cpioRegular = 0o100000
	cpioSymlink = 0o120000
)

// cpioTrailer names the entry that ends a cpio archive.
const cpioTrailer = "TRAILER!!!"

// CPIOWriter writes a cpio archive in the "newc" format (magic 070701), the
// format the Linux kernel unpacks as an initramfs. Entries are owned by
// root; every entry carries the same modification time. Names are
// absolute or relative slash-separated paths and are stored without the
// leading slash; a parent directory missing from the archive is added
// (mode 0755) before its first child. A name may appear only once, except
// that Mkdir of a directory already in the archive does nothing.
type CPIOWriter struct {
	w       *bufio.Writer
	mtime   uint32
	ino     uint32
	entries map[string]uint32 // name -> cpio mode of every entry written
	err     error             // first write error; later calls return it
	closed  bool
}

// NewCPIOWriter returns a writer that writes an archive to w. Close writes
// the trailer; it does not close w.
func NewCPIOWriter(w io.Writer) *CPIOWriter {
	return &CPIOWriter{
		w:       bufio.NewWriterSize(w, 1<<16),
		mtime:   uint32(time.Now().Unix()),
		entries: make(map[string]uint32),
	}
}

// Mkdir adds the directory name (and any missing parents) with the
// permission bits perm.
func (c *CPIOWriter) Mkdir(name string, perm fs.FileMode) error {
	n, err := c.prepare(name, true)
	if err != nil || n == "" {
		return err
	}
	if mode, ok := c.entries[n]; ok {
		if mode&0o170000 == cpioDir {
			return nil
		}
		return fmt.Errorf("vmtest: cpio: %s is already in the archive and not a directory", n)
	}
	return c.header(n, cpioDir|uint32(perm.Perm()), 2, 0, 0, 0)
}

// WriteFile adds the regular file name holding data, with the permission
// bits perm.
func (c *CPIOWriter) WriteFile(name string, perm fs.FileMode, data []byte) error {
	n, err := c.prepare(name, false)
	if err != nil {
		return err
	}
	if err := c.header(n, cpioRegular|uint32(perm.Perm()), 1, int64(len(data)), 0, 0); err != nil {
		return err
	}
	return c.body(func() (int64, error) {
		k, err := c.w.Write(data)
		return int64(k), err
	}, int64(len(data)))
}

// CopyFile adds the regular file name with the contents of the host file
// hostPath (symbolic links followed). perm 0 takes the host file's
// permission bits.
func (c *CPIOWriter) CopyFile(name string, perm fs.FileMode, hostPath string) error {
	// Not an input: the host files the suite puts in its image.
	f, err := os.Open(hostPath)
	if err != nil {
		return fmt.Errorf("vmtest: cpio: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("vmtest: cpio: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("vmtest: cpio: %s is not a regular file", hostPath)
	}
	if perm == 0 {
		perm = fi.Mode().Perm()
	}
	n, err := c.prepare(name, false)
	if err != nil {
		return err
	}
	size := fi.Size()
	if err := c.header(n, cpioRegular|uint32(perm.Perm()), 1, size, 0, 0); err != nil {
		return err
	}
	return c.body(func() (int64, error) {
		k, err := io.Copy(c.w, io.LimitReader(f, size))
		if err == nil && k != size {
			err = fmt.Errorf("vmtest: cpio: %s changed size while being copied", hostPath)
		}
		return k, err
	}, size)
}

// Symlink adds the symbolic link name pointing to target.
func (c *CPIOWriter) Symlink(name, target string) error {
	if target == "" {
		return fmt.Errorf("vmtest: cpio: symlink %s has an empty target", name)
	}
	n, err := c.prepare(name, false)
	if err != nil {
		return err
	}
	if err := c.header(n, cpioSymlink|0o777, 1, int64(len(target)), 0, 0); err != nil {
		return err
	}
	return c.body(func() (int64, error) {
		k, err := c.w.WriteString(target)
		return int64(k), err
	}, int64(len(target)))
}

// CharDevice adds the character device node name (major:minor) with the
// permission bits perm; /dev/console is the one an initramfs needs.
func (c *CPIOWriter) CharDevice(name string, perm fs.FileMode, major, minor uint32) error {
	n, err := c.prepare(name, false)
	if err != nil {
		return err
	}
	return c.header(n, cpioChar|uint32(perm.Perm()), 1, 0, major, minor)
}

// Close writes the trailer and flushes the archive. It does not close the
// underlying writer.
func (c *CPIOWriter) Close() error {
	if c.closed {
		return c.err
	}
	if c.err == nil {
		if err := c.header(cpioTrailer, 0, 1, 0, 0, 0); err == nil {
			c.setErr(c.w.Flush())
		}
	}
	c.closed = true
	return c.err
}

// prepare validates and cleans name, checks it is new (dir allows an
// existing directory) and adds its missing parent directories. It returns
// "" for the root directory, which is never written.
func (c *CPIOWriter) prepare(name string, dir bool) (string, error) {
	if c.closed {
		return "", errors.New("vmtest: cpio: write after Close")
	}
	if c.err != nil {
		return "", c.err
	}
	n, err := cleanName(name)
	if err != nil {
		return "", err
	}
	if n == "" {
		if dir {
			return "", nil
		}
		return "", fmt.Errorf("vmtest: cpio: %q names the root directory", name)
	}
	if _, ok := c.entries[n]; ok && !dir {
		return "", fmt.Errorf("vmtest: cpio: %s is already in the archive", n)
	}
	if parent := path.Dir(n); parent != "." {
		if err := c.Mkdir(parent, 0o755); err != nil {
			return "", err
		}
	}
	return n, nil
}

// cleanName turns an absolute or relative slash path into the archive's
// relative form ("" for the root), rejecting names that are not clean or
// leave the root.
func cleanName(name string) (string, error) {
	rel := strings.TrimPrefix(name, "/")
	if rel == "" || rel == "." {
		return "", nil
	}
	if !fs.ValidPath(rel) || strings.ContainsRune(rel, 0) {
		return "", fmt.Errorf("vmtest: cpio: invalid name %q", name)
	}
	return rel, nil
}

// header writes one newc header and the padded name.
func (c *CPIOWriter) header(name string, mode, nlink uint32, size int64, rdevMajor, rdevMinor uint32) error {
	if size > 0xffffffff {
		return c.setErr(fmt.Errorf("vmtest: cpio: %s is too large (%d bytes) for newc", name, size))
	}
	c.ino++
	ino := c.ino
	mtime := c.mtime
	if name == cpioTrailer {
		ino, mtime = 0, 0
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, mtime, uint32(size), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	if _, err := c.w.WriteString(hdr); err != nil {
		return c.setErr(err)
	}
	if _, err := c.w.WriteString(name); err != nil {
		return c.setErr(err)
	}
	// The name ends with a NUL and is padded so that the data starts on a
	// four-byte boundary (the header is 110 bytes).
	if err := c.pad(len(hdr)+len(name), 1); err != nil {
		return err
	}
	if name != cpioTrailer {
		c.entries[name] = mode
	}
	return nil
}

// body writes an entry's data with write, then pads it to four bytes.
func (c *CPIOWriter) body(write func() (int64, error), size int64) error {
	if size == 0 {
		return nil
	}
	if _, err := write(); err != nil {
		return c.setErr(err)
	}
	return c.pad(int(size%4), 0)
}

// pad writes extra NUL bytes and then enough NUL bytes to bring n+extra
// to a multiple of four.
func (c *CPIOWriter) pad(n, extra int) error {
	k := extra + (4-(n+extra)%4)%4
	if _, err := c.w.Write(make([]byte, k)); err != nil {
		return c.setErr(err)
	}
	return nil
}

func (c *CPIOWriter) setErr(err error) error {
	if c.err == nil && err != nil {
		c.err = fmt.Errorf("vmtest: cpio: %w", err)
	}
	return c.err
}
