package coldplug

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
)

// rules are udev's rules that load modules for a device besides its
// MODALIAS: systemd's 80-drivers.rules, whose lines are the same in
// systemd 252 (Debian 12) and 257 (Debian 13),
//
//	SUBSYSTEM=="tifm", ENV{TIFM_CARD_TYPE}=="SD", RUN{builtin}+="kmod load tifm_sd"
//	SUBSYSTEM=="tifm", ENV{TIFM_CARD_TYPE}=="MS", RUN{builtin}+="kmod load tifm_ms"
//	SUBSYSTEM=="memstick", RUN{builtin}+="kmod load ms_block mspro_block"
//	SUBSYSTEM=="i2o", RUN{builtin}+="kmod load i2o_block"
//	SUBSYSTEM=="module", KERNEL=="parport_pc", RUN{builtin}+="kmod load ppdev"
//	KERNEL=="mtd*ro", ENV{MTD_FTL}=="smartmedia", RUN{builtin}+="kmod load sm_ftl"
//
// (MTD_FTL comes from udev's mtd_probe, 75-probe_mtd.rules, which reads
// the flash: smartMedia), and, with Options.LoadSG, Debian's
// 80-debian-compat.rules (both releases):
//
//	SUBSYSTEM=="scsi", ENV{DEVTYPE}=="scsi_device", TEST!="[module/sg]", RUN{builtin}+="kmod load sg"
//
// All of them only for "add" events. udev's "kmod load NAME" looks NAME
// up as modprobe does, the blacklist applied, a name no module has being
// no error: as an alias.
type rules struct {
	sysfs, dev string // where sysfs and the device nodes are
	sg         bool   // Debian's sg rule
}

// newRules returns the rules of opts.
func newRules(opts Options) rules {
	r := rules{sysfs: opts.SysfsDir, dev: opts.DevDir, sg: opts.LoadSG}
	if r.sysfs == "" {
		r.sysfs = "/sys"
	}
	if r.dev == "" {
		r.dev = "/dev"
	}
	return r
}

// device returns the device at sysfs directory dir with the uevent
// properties env, its subsystem and its kernel name (the directory's
// base name), and whether anything loads for it: a MODALIAS or a rule.
func (r rules) device(dir, subsystem string, env map[string]string) (Device, bool) {
	d := Device{Path: dir, Modalias: env["MODALIAS"]}
	kernel := filepath.Base(dir)
	switch subsystem {
	case "tifm":
		switch env["TIFM_CARD_TYPE"] {
		case "SD":
			d.Drivers = append(d.Drivers, "tifm_sd")
		case "MS":
			d.Drivers = append(d.Drivers, "tifm_ms")
		}
	case "memstick":
		d.Drivers = append(d.Drivers, "ms_block", "mspro_block")
	case "i2o":
		d.Drivers = append(d.Drivers, "i2o_block")
	case "module":
		if kernel == "parport_pc" {
			d.Drivers = append(d.Drivers, "ppdev")
		}
	case "scsi":
		if r.sg && env["DEVTYPE"] == "scsi_device" && !isDir(filepath.Join(r.sysfs, "module", "sg")) {
			d.Drivers = append(d.Drivers, "sg")
		}
	}
	if len(kernel) >= len("mtdro") && strings.HasPrefix(kernel, "mtd") && strings.HasSuffix(kernel, "ro") &&
		(env["MTD_FTL"] == "smartmedia" || r.smartMedia(dir, env["DEVNAME"])) {
		d.Drivers = append(d.Drivers, "sm_ftl")
	}
	return d, d.Modalias != "" || len(d.Drivers) > 0
}

// cisSignature starts a SmartMedia card's Card Information Structure.
var cisSignature = []byte{0x01, 0x03, 0xD9, 0x01, 0xFF, 0x18, 0x02, 0xDF, 0x01, 0x20}

// smartMedia reports whether the read-only MTD device at sysfs directory
// dir (device node DEVNAME devname) holds a SmartMedia card, as udev's
// mtd_probe decides: a NAND flash (the MTD's type "nand", the attributes
// being its parent's) with 512- or 256-byte pages, whose first 512-byte
// sector that reads whole, among those of the spare blocks (6, 12 or 24
// erase blocks by the card's size), holds the CIS signature at its
// start or at byte 256.
func (r rules) smartMedia(dir, devname string) bool {
	mtd := filepath.Dir(dir)
	attr := func(name string) int64 {
		data, err := fileio.ReadFile(filepath.Join(mtd, name), maxAttr)
		if err != nil {
			return -1
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	typ, err := fileio.ReadFile(filepath.Join(mtd, "type"), maxAttr)
	if err != nil || strings.TrimSpace(string(typ)) != "nand" || devname == "" || !filepath.IsLocal(devname) {
		return false
	}
	page, erase, size := attr("writesize"), attr("erasesize"), attr("size")
	if page != 512 && page != 256 || erase <= 0 {
		return false
	}
	spare := int64(24)
	switch size >> 20 {
	case 1, 2:
		spare = 6
	case 4:
		spare = 12
	}
	node := filepath.Join(r.dev, devname)
	if fi, err := os.Lstat(node); err != nil || fi.Mode()&os.ModeCharDevice == 0 && !fi.Mode().IsRegular() {
		return false // not a device node (nor a test's file)
	}
	f, err := os.Open(node)
	if err != nil {
		return false
	}
	defer f.Close()
	const sector = 512
	buf := make([]byte, sector)
	// At most maxSectorReads tries, whatever the attributes say.
	const maxSectorReads = 4096
	for i, off := 0, int64(0); off < erase*spare && i < maxSectorReads; i, off = i+1, off+page {
		n, err := f.Read(buf)
		if n == sector {
			return bytes.HasPrefix(buf, cisSignature) || bytes.HasPrefix(buf[256:], cisSignature)
		}
		if errors.Is(err, io.EOF) {
			return false
		}
	}
	return false
}

// isDir reports whether path is a directory.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
