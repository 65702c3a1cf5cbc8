package vmtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrMonitor is wrapped by the errors of qemu's monitor: a QMP socket
// that cannot be reached, a reply that is not QMP, a command qemu
// refused.
var ErrMonitor = errors.New("qemu monitor")

// monitorTimeout bounds each exchange with qemu's monitor.
const monitorTimeout = 30 * time.Second

// Monitor is a connection to qemu's monitor in its machine protocol (QMP)
// on a unix socket, past the capabilities negotiation. It is not safe for
// concurrent use.
type Monitor struct {
	conn net.Conn
	r    *bufio.Reader
}

// DialMonitor connects to the QMP socket path (Machine.Monitor) and
// leaves the negotiation mode.
func DialMonitor(ctx context.Context, path string) (*Monitor, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMonitor, err)
	}
	m := &Monitor{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	// The greeting: {"QMP": {"version": ..., "capabilities": [...]}}.
	conn.SetDeadline(time.Now().Add(monitorTimeout))
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := m.read(&greeting); err != nil || greeting.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %s: no QMP greeting (%v)", ErrMonitor, path, err)
	}
	if err := m.Execute("qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return m, nil
}

// Close closes the connection.
func (m *Monitor) Close() error { return m.conn.Close() }

// Execute runs the QMP command cmd with arguments args (nil for none)
// and waits for its reply; asynchronous events in between are skipped.
// qemu's refusal is an error naming the command and qemu's reason.
func (m *Monitor) Execute(cmd string, args any) error {
	m.conn.SetDeadline(time.Now().Add(monitorTimeout))
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMonitor, cmd, err)
	}
	if _, err := m.conn.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMonitor, cmd, err)
	}
	for {
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := m.read(&reply); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMonitor, cmd, err)
		}
		switch {
		case reply.Error != nil:
			return fmt.Errorf("%w: %s: %s: %s", ErrMonitor, cmd, reply.Error.Class, reply.Error.Desc)
		case reply.Return != nil:
			return nil
		}
		// An event ("DEVICE_DELETED", "RTC_CHANGE"...): not ours.
	}
}

// read decodes one line of the monitor into v.
func (m *Monitor) read(v any) error {
	line, err := m.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}
