package vmtest

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeQMP serves QMP on a unix socket as qemu does: a greeting, then a
// reply per command, with an event before each reply; device_add of
// driver "refused" fails as qemu refuses. It records the commands.
type fakeQMP struct {
	path string
	mu   sync.Mutex
	cmds []map[string]any
}

func startFakeQMP(t *testing.T) *fakeQMP {
	t.Helper()
	dir, err := os.MkdirTemp("", "qmp")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	q := &fakeQMP{path: filepath.Join(dir, "s")}
	ln, err := net.Listen("unix", q.path)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go q.serve(conn)
		}
	}()
	return q
}

func (q *fakeQMP) serve(conn net.Conn) {
	defer conn.Close()
	conn.Write([]byte(`{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}` + "\r\n"))
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		var cmd map[string]any
		if json.Unmarshal(sc.Bytes(), &cmd) != nil {
			return
		}
		q.mu.Lock()
		q.cmds = append(q.cmds, cmd)
		q.mu.Unlock()
		conn.Write([]byte(`{"event": "RTC_CHANGE", "data": {}}` + "\r\n"))
		args, _ := cmd["arguments"].(map[string]any)
		if args["driver"] == "refused" {
			conn.Write([]byte(`{"error": {"class": "GenericError", "desc": "Bus 'pci.0' does not support hotplugging"}}` + "\r\n"))
			continue
		}
		conn.Write([]byte(`{"return": {}}` + "\r\n"))
	}
}

func TestHotplugRequests(t *testing.T) {
	q := startFakeQMP(t)
	h := &hotplugger{ctx: context.Background(), socket: q.path, devices: map[string]map[string]any{
		"nic": {"driver": "e1000e", "bus": "pci.0"}, "bad": {"driver": "refused"},
	}}
	w := NewLineWriter(h.line)
	// The guest's requests as RequestDevice prints them, one after kernel
	// messages on its line, amid other output.
	_, err := w.Write([]byte("=== RUN TestHotplug\r\n\r\n" + HotplugMarker + "nic\r\n[ 12.3] e1000e: " + HotplugMarker + "nic\r\n" +
		"not a request: " + HotplugMarker + "nic trailing\r\n"))
	require.NoError(t, err)
	require.NoError(t, h.close())
	q.mu.Lock()
	cmds := q.cmds
	q.mu.Unlock()
	require.Len(t, cmds, 3, "qmp_capabilities and two device_add")
	assert.Equal(t, "qmp_capabilities", cmds[0]["execute"])
	ids := map[any]bool{}
	for _, c := range cmds[1:] {
		assert.Equal(t, "device_add", c["execute"])
		args := c["arguments"].(map[string]any)
		assert.Equal(t, "e1000e", args["driver"])
		assert.Equal(t, "pci.0", args["bus"])
		ids[args["id"]] = true
	}
	assert.Len(t, ids, 2, "each device its own id")

	h = &hotplugger{ctx: context.Background(), socket: q.path, devices: map[string]map[string]any{"bad": {"driver": "refused"}}}
	h.line(HotplugMarker + "bad")
	h.line(HotplugMarker + "unknown")
	err = h.close()
	require.ErrorIs(t, err, ErrHotplug)
	assert.ErrorIs(t, err, ErrMonitor)
	assert.Contains(t, err.Error(), "does not support hotplugging")
	assert.Contains(t, err.Error(), `"unknown"`)

	h = &hotplugger{ctx: context.Background(), socket: filepath.Join(t.TempDir(), "none"), devices: map[string]map[string]any{"nic": {"driver": "e1000e"}}}
	h.line(HotplugMarker + "nic")
	err = h.close()
	require.ErrorIs(t, err, ErrHotplug)
	assert.ErrorIs(t, err, ErrMonitor)
}

func TestRequestDeviceName(t *testing.T) {
	for _, bad := range []string{"", "a b", "x\nGOKMOD-VM-EXIT: 0", "../x"} {
		assert.Error(t, RequestDevice(bad), "%q", bad)
	}
	assert.True(t, hotplugLine.MatchString(HotplugMarker+"e1000e"))
	assert.False(t, hotplugLine.MatchString(HotplugMarker+"e1000e x"))
}

func TestMachineMonitorArgs(t *testing.T) {
	m := Machine{Kernel: "K", Initrd: "I", Monitor: "/tmp/q/qmp"}
	assert.Contains(t, strings.Join(m.Args(), " "), "-qmp unix:/tmp/q/qmp,server=on,wait=off")
	m.Monitor = ""
	assert.NotContains(t, m.Args(), "-qmp")
}
