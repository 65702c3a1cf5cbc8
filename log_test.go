package modprobe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
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

// TestDeplineRecord: a modules.dep dependency that cannot be opened is
// logged in the library's words, with the dependency's path and the error
// as attributes; libkmod's debugging text ("ctx=%p path=%s error=%s") is
// the CLI's to print.
func TestDeplineRecord(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	require.NoError(t, os.Remove(lt.path("kernel/a.ko")))
	var buf bytes.Buffer
	l := lt.open(t, modprobe.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	_, err := l.Plan(context.Background(), "b", nil, modprobe.PlanOptions{IgnoreLoaded: true})
	require.NoError(t, err)

	var found bool
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "record %q", line)
		assert.NotContains(t, line, "ctx=", "a record carries libkmod's debugging text")
		if rec[modprobe.AttrEvent] != "depline-module-failed" {
			continue
		}
		found = true
		assert.Equal(t, lt.path("kernel/a.ko"), rec[modprobe.AttrPath])
		assert.Contains(t, rec[modprobe.AttrError], syscall.ENOENT.Error())
	}
	assert.True(t, found, "no depline-module-failed record in:\n%s", buf.String())
}
