package kernel

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/modname"
)

// ReadRefcnt reads /sys/module/NAME/refcnt under sysfs as libkmod does: a
// base-10 number followed by whitespace. A missing file is returned as an
// error wrapping fs.ErrNotExist (module not loaded, or a kernel without
// module unloading).
func ReadRefcnt(sysfs, name string) (int, error) {
	path := filepath.Join(sysfs, "module", name, "refcnt")
	return readLong(path)
}

// ReadCoresize reads /sys/module/NAME/coresize.
func ReadCoresize(sysfs, name string) (int64, error) {
	n, err := readLong(filepath.Join(sysfs, "module", name, "coresize"))
	return int64(n), err
}

func readLong(path string) (int, error) {
	b, err := fileio.ReadFile(path, 63)
	if err != nil {
		return 0, err
	}
	s := string(b)
	end := strings.IndexAny(s, " \t\n\v\f\r")
	if end <= 0 {
		return 0, fmt.Errorf("could not read integer from '%s': '%s'", path, s)
	}
	n, err := strconv.Atoi(s[:end])
	if err != nil {
		return 0, fmt.Errorf("could not read integer from '%s': '%s'", path, s)
	}
	return n, nil
}

// ReadHolders lists /sys/module/NAME/holders in directory order, each
// entry's name normalized as libkmod makes a module of it: a stray file
// there (a copy of kmod's test trees keeps a .gitkeep in an empty holders
// directory) becomes the empty name, as lsmod prints it. A module without
// the directory has no holders.
func ReadHolders(sysfs, name string) ([]string, error) {
	names, err := fileio.ReadDirNames(filepath.Join(sysfs, "module", name, "holders"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	for i, n := range names {
		names[i] = modname.Normalize(n)
	}
	return names, err
}

// ReadParameter reads /sys/module/NAME/parameters/PARAM without its
// trailing newline.
func ReadParameter(sysfs, name, param string) (string, error) {
	b, err := fileio.ReadFile(filepath.Join(sysfs, "module", name, "parameters", param), 1<<16)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// WriteParameter sets module name's parameter param to value through
// sysfs (/sys/module/NAME/parameters/PARAM), as writing to the file does:
// the file must exist (the kernel creates it), and is not created.
func WriteParameter(sysfs, name, param, value string) error {
	f, err := os.OpenFile(filepath.Join(sysfs, "module", name, "parameters", param), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadCompression reads /sys/module/compression, the format the kernel
// decompresses modules in (Linux 6.4 with CONFIG_MODULE_DECOMPRESS): the
// word without its newline, or "" when the file does not exist.
func ReadCompression(sysfs string) (string, error) {
	b, err := fileio.ReadFile(filepath.Join(sysfs, "module", "compression"), 63)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}
