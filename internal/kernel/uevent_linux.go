package kernel

import (
	"os"

	"golang.org/x/sys/unix"
)

// OpenUevents opens a socket on the kernel's uevent multicast group
// (NETLINK_KOBJECT_UEVENT, group 1: the kernel's own events, before udev
// sees them), non-blocking, as an *os.File so that reads wait in the
// runtime's poller and honour read deadlines and Close.
func OpenUevents() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	// Room for a burst of events while drivers load (the default is the
	// system's rmem_default).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	return os.NewFile(uintptr(fd), "uevent"), nil
}
