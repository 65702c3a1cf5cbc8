//go:build linux

package modprobe

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/kernel"
)

// appendRecord appends a /dev/kmsg record to the log file at path.
func appendRecord(t *testing.T, path, record string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(record)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestKernelLogsReuse: a load run's offers share the kernel log
// descriptors one after the other, each moved to the log's end when
// taken, so that an offer reads what was logged during it alone; an
// offer overlapping another gets its own descriptor; the run's end
// closes them.
func TestKernelLogsReuse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmsg")
	require.NoError(t, os.WriteFile(path, []byte("6,1,100,-;before the run\n"), 0o644))
	var logs kernelLogs

	first, err := logs.take(path)
	require.NoError(t, err)
	appendRecord(t, path, "6,2,200,-;during the first offer\n")
	msgs, err := first.ReadNew()
	require.NoError(t, err)
	assert.Equal(t, []string{"during the first offer"}, msgs)
	logs.put(first)

	appendRecord(t, path, "6,3,300,-;between the offers\n")
	second, err := logs.take(path)
	require.NoError(t, err)
	assert.Same(t, first, second, "the first offer's descriptor is taken again")
	overlapping, err := logs.take(path)
	require.NoError(t, err)
	assert.NotSame(t, second, overlapping, "an overlapping offer shares no descriptor")
	appendRecord(t, path, "6,4,400,-;during the second offer\n")
	for _, k := range []*kernel.Kmsg{second, overlapping} {
		msgs, err := k.ReadNew()
		require.NoError(t, err)
		assert.Equal(t, []string{"during the second offer"}, msgs)
		logs.put(k)
	}
	assert.Len(t, logs.idle, 2)

	logs.close()
	assert.Empty(t, logs.idle)
	late, err := kernel.OpenKmsg(path)
	require.NoError(t, err)
	logs.put(late) // after the run: closed, not kept
	assert.Empty(t, logs.idle)
}
