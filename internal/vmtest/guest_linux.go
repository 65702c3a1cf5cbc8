package vmtest

import (
	"fmt"
	"os"
	"syscall"
)

// guestMounts are the file systems GuestMain mounts, in order.
var guestMounts = []struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}{
	{"proc", "/proc", "proc", syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", syscall.MS_NOSUID, "mode=0755"},
	{"tmpfs", "/tmp", "tmpfs", syscall.MS_NOSUID | syscall.MS_NODEV, "mode=1777"},
	{"tmpfs", "/run", "tmpfs", syscall.MS_NOSUID | syscall.MS_NODEV, "mode=0755"},
}

// mountGuest mounts guestMounts, creating the mount points.
func mountGuest() error {
	for _, m := range guestMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// tcsbrk is the TCSBRK ioctl of x86 (asm-generic/ioctls.h); with argument
// 1 it is tcdrain(3). The syscall package does not define it.
const tcsbrk = 0x5409

// powerOff waits until the console has sent its output, flushes the file
// systems and powers the machine off. It returns only on failure.
func powerOff() {
	for _, fd := range []uintptr{1, 2} {
		// Best effort: the status line must leave the serial port before
		// the machine stops; a non-terminal fails harmlessly.
		_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, fd, tcsbrk, 1)
	}
	syscall.Sync()
	if err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Fprintf(os.Stderr, "vmtest: power off: %v\n", err)
	}
}
