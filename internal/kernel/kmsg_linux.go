package kernel

import (
	"io"

	"golang.org/x/sys/unix"
)

// Kmsg reads the kernel log from /dev/kmsg (or a regular file holding
// records in its format), from the position it was opened at.
type Kmsg struct {
	fd int
}

// OpenKmsg opens the kernel log at path, positioned after its last record.
func OpenKmsg(path string) (*Kmsg, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	k := &Kmsg{fd: fd}
	if err := k.SeekEnd(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return k, nil
}

// SeekEnd positions k after the log's last record, as OpenKmsg does: the
// next ReadNew returns what is logged from now on.
func (k *Kmsg) SeekEnd() error {
	_, err := unix.Seek(k.fd, 0, io.SeekEnd)
	return err
}

// ReadNew returns the messages logged since the last call (or since the
// log was opened), without their record headers.
func (k *Kmsg) ReadNew() ([]string, error) {
	buf := make([]byte, 16<<10)
	var msgs []string
	total := 0
	for total < maxKmsgRead {
		n, err := unix.Read(k.fd, buf)
		switch err {
		case nil:
		case unix.EINTR, unix.EPIPE: // a record was overwritten: go on
			continue
		case unix.EAGAIN:
			return msgs, nil
		default:
			return msgs, err
		}
		if n <= 0 {
			return msgs, nil
		}
		total += n
		msgs = parseKmsg(buf[:n], msgs)
	}
	return msgs, nil
}

// Close closes the log.
func (k *Kmsg) Close() error { return unix.Close(k.fd) }
