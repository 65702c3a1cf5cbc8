package modprobe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogEvents: the records a Loader logs name what they report in
// AttrEvent, a library word, and carry nothing of libkmod's own sources.
func TestLogEvents(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	lt.K.FailInsert("b", syscall.ENOEXEC)
	var buf bytes.Buffer
	l := lt.open(t, modprobe.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	require.Error(t, l.Load(context.Background(), "b"))

	var events []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "record %q", line)
		if ev, ok := rec[modprobe.AttrEvent].(string); ok {
			events = append(events, ev)
		}
		assert.NotContains(t, line, "libkmod", "a record names libkmod's sources")
	}
	assert.Contains(t, events, "insert-failed")
}
