package modulesload_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/modprobetest"
	"github.com/gokmod/modprobe/modulesload"
)

func TestLoad(t *testing.T) {
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, "6.12.0",
		modprobetest.Module{Name: "base"},
		modprobetest.Module{Name: "top", Depends: []string{"base"}, Aliases: []string{"pci:v1*"}},
		modprobetest.Module{Name: "other", Aliases: []string{"pci:v1*"}},
		modprobetest.Module{Name: "nodev"},
		modprobetest.Module{Name: "broken"},
		modprobetest.Module{Name: "live"},
		modprobetest.Module{Name: "black"},
		modprobetest.Module{Name: "inside", Builtin: true},
	)
	require.NoError(t, err)
	conf := filepath.Join(root, "modprobe.d")
	require.NoError(t, os.MkdirAll(conf, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(conf, "b.conf"), []byte("blacklist black\n"), 0o644))
	k := modprobetest.NewKernel(t)
	k.FailInit("nodev", syscall.ENODEV)
	k.FailInit("broken", syscall.EINVAL)
	require.NoError(t, k.Preload("live"))
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{conf}})

	entries := []modulesload.Entry{{Name: "top"}, {Name: "pci:v1234"}, {Name: "nodev"}, {Name: "nowhere", File: "/etc/modules-load.d/x.conf", Line: 3},
		{Name: "live"}, {Name: "black"}, {Name: "inside"}, {Name: "broken"}}
	for run, jobs := range []int{1, 4} {
		results, err := modulesload.Load(context.Background(), l, entries, modulesload.LoadOptions{Jobs: jobs})
		require.Error(t, err)
		assert.ErrorIs(t, err, syscall.EINVAL, "broken fails the run")
		assert.NotErrorIs(t, err, syscall.ENODEV, "no device is no failure")
		type row struct{ name, module, status string }
		var got []row
		for _, r := range results {
			st := r.Status.String()
			if r.Module == "top" && (st == "inserted" || st == "already loaded") {
				st = "in" // two entries reach top: whichever comes second finds it live
			}
			got = append(got, row{r.Entry.Name, r.Module, st})
		}
		assert.Equal(t, []row{
			{"top", "top", "in"},
			{"pci:v1234", "top", "in"},
			{"pci:v1234", "other", "inserted"},
			{"nodev", "nodev", "no device"},
			{"nowhere", "nowhere", "not found"},
			{"live", "live", "already loaded"},
			{"black", "black", "deny-listed"},
			{"inside", "inside", "builtin"},
			{"broken", "broken", "failed"},
		}, got, "jobs %d", jobs)
		tops := 0
		for _, in := range k.Inserts() {
			if in.Module == "top" && in.Err == nil {
				tops++
			}
		}
		assert.Equal(t, run+1, tops, "top goes in once per run")
		assert.Contains(t, results[4].Err.Error(), "/etc/modules-load.d/x.conf:3")
		assert.ElementsMatch(t, []string{"live", "base", "top", "other"}, k.Loaded())
		for _, m := range []string{"top", "other", "base"} {
			require.NoError(t, l.Remove(context.Background(), m))
		}
	}
}

func TestLoadCancelled(t *testing.T) {
	root := t.TempDir()
	_, err := modprobetest.WriteTree(root, "6.12.0", modprobetest.Module{Name: "a"})
	require.NoError(t, err)
	k := modprobetest.NewKernel(t)
	l := k.Open(t, modprobe.Options{RootDir: root, KernelRelease: "6.12.0", ConfigPaths: []string{}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = modulesload.Load(ctx, l, []modulesload.Entry{{Name: "a"}}, modulesload.LoadOptions{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, k.Inserted())
}
