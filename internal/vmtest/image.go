package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/gokmod/modprobe/internal/testmod"
)

// Guest paths of the files that carry GuestMain's arguments and
// environment, one entry a line.
const (
	GuestArgsFile = "/etc/vmtest/args"
	GuestEnvFile  = "/etc/vmtest/env"
)

// moduleFiles are copied from the kernel tree's module directory next to
// the modules, so that depmod in the staging tree sees what it expects.
var moduleFiles = []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"}

// kmodTools are the names under /sbin that link to kmod in the image.
var kmodTools = []string{"modprobe", "insmod", "rmmod", "lsmod", "depmod", "modinfo"}

// busyboxApplets are the busybox applets linked under /bin in the image,
// those the host's busybox lacks left out. The module tools are kmod's.
var busyboxApplets = []string{
	"[", "ash", "awk", "basename", "cat", "chmod", "cmp", "cp", "cut", "date", "dd", "df",
	"dirname", "dmesg", "du", "echo", "env", "false", "find", "free", "grep", "gunzip", "gzip",
	"head", "hexdump", "ip", "kill", "ln", "ls", "mkdir", "mknod", "mktemp", "mount", "mv",
	"nproc", "od", "poweroff", "printf", "ps", "pwd", "readlink", "realpath", "reboot", "rm",
	"rmdir", "sed", "seq", "sh", "sleep", "sort", "stat", "sync", "tail", "tee", "test",
	"timeout", "touch", "tr", "true", "umount", "uname", "uniq", "unxz", "wc", "xargs", "xxd",
	"xz", "xzcat", "zcat",
}

// mountPoints are the empty directories GuestMain mounts file systems on.
var mountPoints = []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/root"}

// File is the content of one path in an image: a copy of a host file, the
// bytes Data, or a symbolic link. Build the values with HostFile, DataFile
// and Symlink.
type File struct {
	HostPath string      // copy this host file (symbolic links followed)
	Data     []byte      // else these bytes
	Mode     fs.FileMode // permission bits; 0 means the host file's, or 0644 for Data
	Link     string      // if set, the file is a symbolic link to Link
}

// HostFile returns a File copying the host file path with its permissions.
func HostFile(path string) File { return File{HostPath: path} }

// DataFile returns a File holding data with the permission bits perm.
func DataFile(data []byte, perm fs.FileMode) File { return File{Data: data, Mode: perm} }

// Symlink returns a File that is a symbolic link to target.
func Symlink(target string) File { return File{Link: target} }

// Image describes an initramfs for a Debian kernel tree. Beyond what its
// fields name, every image holds kmod as /usr/bin/kmod (the host's with
// the shared libraries ldd lists for it, or KmodRoot's) and /sbin links
// (modprobe, insmod, rmmod, lsmod, depmod, modinfo), busybox-static as
// /bin/busybox with /bin links to common applets (sh, cat, ls, mount,
// poweroff, ip, ...), the device node /dev/console, and empty mount points
// (/proc, /sys, /dev, /tmp, /run, /root).
type Image struct {
	// Root and Release name the kernel tree: ROOT/lib/modules/RELEASE
	// holds the modules and their modules.dep.
	Root, Release string

	// MergedUsr lays the image out as a merged-/usr system, as Debian 13
	// is installed: /bin, /sbin, /lib and /lib64 are symbolic links to
	// usr/bin, usr/sbin, usr/lib and usr/lib64, so the modules live under
	// /usr/lib/modules and /lib/modules reaches them.
	MergedUsr bool

	// KmodRoot, if not empty, is the root directory of another system
	// whose kmod the image carries instead of the host's: ROOT/usr/bin/kmod
	// with its program interpreter and every shared library it needs or
	// may dlopen (see ELFDependencies), each at its path in that root, so
	// that the image holds none of the host's libraries.
	KmodRoot string

	// Depmod is the depmod program that indexes the image's modules
	// ("depmod -b STAGING -C STAGING/etc/depmod.d RELEASE"), such as a
	// wrapper running KmodRoot's kmod; "" means the host's depmod.
	Depmod string

	// Modules are module names ('-' and '_' alike). The image holds them
	// and every module they need (ModuleClosure: dependencies and
	// softdeps) at their paths below /lib/modules/RELEASE, with the tree's
	// modules.order, modules.builtin and modules.builtin.modinfo. The
	// host's depmod indexes the result after Files are in place, so Files
	// may add modules there too.
	Modules []string

	// Init becomes /init, the program the kernel runs as PID 1: a test
	// binary whose TestMain calls GuestMain, or a "#!/bin/sh" script.
	Init File

	// Files maps absolute guest paths to their content. They are written
	// after the base system and the modules, so they may replace them.
	Files map[string]File

	// Args are extra command line arguments for GuestMain (test flags such
	// as "-test.v" or "-test.run=Foo"); Env are KEY=VALUE environment
	// entries GuestMain sets. They are written to GuestArgsFile and
	// GuestEnvFile, one a line, and so must not hold newlines.
	Args, Env []string
}

// Build writes the image as an uncompressed newc cpio archive to the file
// out. It assembles the tree in a temporary staging directory, indexes its
// modules with Depmod and packs it.
func (img *Image) Build(ctx context.Context, out string) (err error) {
	if img.Release == "" || img.Root == "" {
		return errors.New("vmtest: Image needs Root and Release")
	}
	if img.Init.HostPath == "" && img.Init.Data == nil {
		return errors.New("vmtest: Image needs an Init program")
	}
	staging, err := os.MkdirTemp("", "vmtest-image-")
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer os.RemoveAll(staging)
	if err := img.stage(ctx, staging); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("vmtest: %w", cerr)
		}
	}()
	return pack(staging, f)
}

// stage assembles the image's tree below dir.
func (img *Image) stage(ctx context.Context, dir string) error {
	if img.MergedUsr {
		if err := stageMergedUsr(dir); err != nil {
			return err
		}
	}
	for _, p := range mountPoints {
		if err := os.MkdirAll(hostPath(dir, p), 0o755); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
	}
	if err := stageBusybox(dir); err != nil {
		return err
	}
	if img.KmodRoot != "" {
		if err := stageKmodRoot(dir, img.KmodRoot); err != nil {
			return err
		}
	} else if err := stageKmod(ctx, dir); err != nil {
		return err
	}
	if err := img.stageModules(dir); err != nil {
		return err
	}
	for guest, f := range img.Files {
		if !path.IsAbs(guest) {
			return fmt.Errorf("vmtest: guest path %q is not absolute", guest)
		}
		if err := writeStaged(dir, guest, f); err != nil {
			return err
		}
	}
	if err := writeStaged(dir, "/init", img.Init); err != nil {
		return err
	}
	for _, list := range []struct {
		guest string
		lines []string
	}{{GuestArgsFile, img.Args}, {GuestEnvFile, img.Env}} {
		var b strings.Builder
		for _, l := range list.lines {
			if strings.ContainsAny(l, "\n\x00") {
				return fmt.Errorf("vmtest: guest argument or environment entry %q holds a newline or NUL", l)
			}
			b.WriteString(l + "\n")
		}
		if err := writeStaged(dir, list.guest, DataFile([]byte(b.String()), 0o644)); err != nil {
			return err
		}
	}
	if err := Depmod(ctx, img.Depmod, dir, img.Release); err != nil {
		return fmt.Errorf("vmtest: indexing the image's modules: %w", err)
	}
	return nil
}

// mergedUsrLinks are the top directories that a merged-/usr system has as
// links into /usr.
var mergedUsrLinks = []string{"bin", "sbin", "lib", "lib64"}

// stageMergedUsr creates /usr/bin, /usr/sbin, /usr/lib and /usr/lib64 and
// the links to them, before anything is written there.
func stageMergedUsr(dir string) error {
	for _, d := range mergedUsrLinks {
		if err := os.MkdirAll(hostPath(dir, "/usr/"+d), 0o755); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
		if err := os.Symlink("usr/"+d, hostPath(dir, "/"+d)); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
	}
	return nil
}

// Depmod indexes the modules of ROOT/lib/modules/RELEASE with the depmod
// program depmod ("" means the host's, through testmod.RunDepmod): it runs
// "depmod -b ROOT -C ROOT/etc/depmod.d RELEASE", so that no configuration
// of the host counts. Output on standard error is a failure, as it is for
// testmod.RunDepmod.
func Depmod(ctx context.Context, depmod, root, release string) error {
	if depmod == "" {
		return testmod.RunDepmod(ctx, root, release)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, depmod, "-b", root, "-C", filepath.Join(root, "etc", "depmod.d"), release)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		return fmt.Errorf("vmtest: %s -b %s %s: %v: %s", depmod, root, release, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// stageModules copies the module closure and the tree's module lists.
func (img *Image) stageModules(dir string) error {
	src := testmod.ModuleDir(img.Root, img.Release)
	dst := testmod.ModuleDir(dir, img.Release)
	mods, err := ModuleClosure(img.Root, img.Release, img.Modules)
	if err != nil {
		return err
	}
	for _, rel := range append(mods, moduleFiles...) {
		if err := copyFile(filepath.Join(dst, rel), filepath.Join(src, rel), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// stageBusybox installs the host's static busybox and its applet links.
func stageBusybox(dir string) error {
	bb, err := findBusybox()
	if err != nil {
		return err
	}
	if err := copyFile(hostPath(dir, "/bin/busybox"), bb, 0o755); err != nil {
		return err
	}
	have, err := busyboxList(bb)
	if err != nil {
		return err
	}
	for _, a := range busyboxApplets {
		if !have[a] {
			continue
		}
		if err := os.Symlink("busybox", hostPath(dir, "/bin/"+a)); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
	}
	return nil
}

// stageKmod installs the host's kmod, the libraries it links and the
// loader, and the tool links in /sbin.
func stageKmod(ctx context.Context, dir string) error {
	kmod, err := testmod.FindTool("kmod")
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	libs, err := sharedLibraries(ctx, kmod)
	if err != nil {
		return err
	}
	if err := copyFile(hostPath(dir, "/usr/bin/kmod"), kmod, 0o755); err != nil {
		return err
	}
	for _, lib := range libs {
		if err := copyFile(hostPath(dir, lib), lib, 0); err != nil {
			return err
		}
	}
	return linkKmodTools(dir)
}

// stageKmodRoot installs the kmod of the system at root with what it
// needs, each file at its path in root, and the tool links in /sbin.
func stageKmodRoot(dir, root string) error {
	deps, err := ELFDependencies(root, "/usr/bin/kmod")
	if err != nil {
		return err
	}
	for guest, host := range deps {
		if err := copyFile(hostPath(dir, guest), host, 0); err != nil {
			return err
		}
	}
	return linkKmodTools(dir)
}

// linkKmodTools links the kmod tools in /sbin to /usr/bin/kmod.
func linkKmodTools(dir string) error {
	if err := os.MkdirAll(hostPath(dir, "/sbin"), 0o755); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	for _, t := range kmodTools {
		if err := os.Symlink("/usr/bin/kmod", hostPath(dir, "/sbin/"+t)); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
	}
	return nil
}

// writeStaged writes f at the guest path below dir, replacing what is
// there.
func writeStaged(dir, guest string, f File) error {
	dst := hostPath(dir, guest)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("vmtest: %w", err)
	}
	switch {
	case f.Link != "":
		if err := os.Symlink(f.Link, dst); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
		return nil
	case f.HostPath != "":
		return copyFile(dst, f.HostPath, f.Mode)
	}
	perm := f.Mode
	if perm == 0 {
		perm = 0o644
	}
	if err := os.WriteFile(dst, f.Data, perm); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	return chmod(dst, perm)
}

// hostPath maps the absolute guest path guest into the staging dir.
func hostPath(dir, guest string) string {
	return filepath.Join(dir, filepath.FromSlash(path.Clean("/"+guest)))
}

// copyFile copies the host file src (symbolic links followed) to dst,
// creating dst's directory; perm 0 keeps src's permission bits.
func copyFile(dst, src string, perm fs.FileMode) error {
	// Not an input: the host files the suite puts in its image.
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer in.Close()
	if perm == 0 {
		fi, err := in.Stat()
		if err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
		perm = fi.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("vmtest: copying %s: %w", src, err)
	}
	return chmod(dst, perm)
}

// chmod sets perm exactly, whatever the umask took away.
func chmod(name string, perm fs.FileMode) error {
	if err := os.Chmod(name, perm); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	return nil
}

// pack writes the tree below dir to w as a cpio archive, adding
// /dev/console.
func pack(dir string, w io.Writer) error {
	c := NewCPIOWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if name == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			return c.Mkdir(name, mode.Perm())
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return c.Symlink(name, target)
		case mode.IsRegular():
			return c.CopyFile(name, mode.Perm(), p)
		}
		return fmt.Errorf("vmtest: %s: unsupported file type %v", p, info.Mode().Type())
	})
	if err == nil {
		err = c.CharDevice("/dev/console", 0o600, 5, 1)
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("vmtest: packing the image: %w", err)
	}
	return nil
}
