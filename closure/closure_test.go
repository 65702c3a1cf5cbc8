package closure_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/closure"
	"github.com/gokmod/modprobe/internal/testmod"
)

const release = "6.1.0-closure"

// closureTree writes a tree with every way a file gets into a closure,
// indexed by kmod's depmod, and returns its root.
func closureTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mod := func(path string, info []string, exports, uses []string) testmod.TreeModule {
		return testmod.TreeModule{RelPath: path, Module: &testmod.Module{ModInfo: info, Exports: exports, Uses: uses}}
	}
	tree := testmod.Tree{
		Release: release,
		Modules: []testmod.TreeModule{
			mod("kernel/a.ko", []string{"license=GPL", "firmware=vendor/a.bin", "firmware=vendor/missing.bin", "firmware=../../etc/passwd", "firmware=/etc/shadow"}, nil, []string{"b_sym"}),
			mod("kernel/b.ko.xz", []string{"license=GPL", "firmware=vendor/b.bin", "firmware=vendor/a.bin"}, []string{"b_sym"}, nil),
			mod("kernel/c.ko", []string{"license=GPL"}, nil, []string{"d_sym"}),
			mod("kernel/d.ko", []string{"license=GPL", "firmware=d.fw"}, []string{"d_sym"}, nil),
			mod("kernel/w.ko", []string{"license=GPL"}, nil, []string{"e_sym"}),
			mod("kernel/e.ko", []string{"license=GPL"}, []string{"e_sym"}, nil),
			mod("kernel/x.ko", []string{"license=GPL"}, nil, []string{"b_sym"}),
			mod("kernel/bad-alias.ko", []string{"license=GPL", "alias=bad-thing"}, nil, nil),
			mod("kernel/unused.ko", []string{"license=GPL", "firmware=vendor/unused.bin"}, nil, nil),
		},
		Builtin: []string{"kernel/bi.ko"},
		Files: map[string][]byte{
			"etc/modprobe.d/test.conf": []byte("softdep a pre: c bi\nweakdep a w\ninstall x /bin/true\nblacklist bad_alias\n"),
		},
	}
	_, err := tree.Write(root)
	require.NoError(t, err)
	require.NoError(t, testmod.RunDepmod(context.Background(), root, release))
	return root
}

func openLoader(t *testing.T, root string) *modprobe.Loader {
	t.Helper()
	l, err := modprobe.Open(modprobe.Options{
		RootDir: root, KernelRelease: release,
		ConfigPaths: []string{filepath.Join(root, "etc/modprobe.d")},
	})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func touch(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte("fw"), 0o644))
}

func TestCompute(t *testing.T) {
	root := closureTree(t)
	l := openLoader(t, root)
	classPath, fw := t.TempDir(), t.TempDir()
	touch(t, filepath.Join(fw, "vendor/a.bin"))
	touch(t, filepath.Join(classPath, "vendor/a.bin")) // the class path comes first
	touch(t, filepath.Join(fw, "vendor/b.bin.xz"))
	touch(t, filepath.Join(fw, "vendor/b.bin.zst")) // .zst before .xz, as the kernel
	touch(t, filepath.Join(fw, "d.fw.xz"))
	touch(t, filepath.Join(root, "etc/passwd")) // never reached through ".."
	require.NoError(t, os.Symlink("a.bin", filepath.Join(fw, "vendor/unused.bin")))

	res, err := closure.Compute(context.Background(), l, []string{"a", "x", "bad-thing"}, closure.Options{
		FirmwareDirs:     []string{classPath, filepath.Join(fw, "updates"), fw},
		FirmwareSuffixes: []string{".zst", ".xz"},
	})
	require.NoError(t, err)
	dir := testmod.ModuleDir(root, release)
	type row struct{ path, reason, module, firmware string }
	var got []row
	for _, f := range res.Files {
		got = append(got, row{f.Path, f.Reason.String(), f.Module, f.Firmware})
	}
	assert.Equal(t, []row{
		// a's dependency b, then its pre softdep c (after c's dependency
		// d), as modprobe -D orders them; then w, a's weak dependency,
		// after its dependency e.
		{dir + "/kernel/b.ko.xz", "dependency", "b", ""},
		{dir + "/kernel/d.ko", "softdep", "d", ""},
		{dir + "/kernel/c.ko", "softdep", "c", ""},
		{dir + "/kernel/a.ko", "requested", "a", ""},
		{dir + "/kernel/e.ko", "weakdep", "e", ""},
		{dir + "/kernel/w.ko", "weakdep", "w", ""},
		// x has an install command: its file and dependency all the same.
		{dir + "/kernel/x.ko", "requested", "x", ""},
		// Firmware in the modules' order, each name once, for the first
		// module that names it.
		{filepath.Join(fw, "vendor/b.bin.zst"), "firmware", "b", "vendor/b.bin"},
		{filepath.Join(classPath, "vendor/a.bin"), "firmware", "b", "vendor/a.bin"},
		{filepath.Join(fw, "d.fw.xz"), "firmware", "d", "d.fw"},
	}, got)
	assert.Equal(t, []string{"bi"}, res.Builtin)
	assert.Equal(t, []closure.Command{{Module: "x", Command: "/bin/true"}}, res.Commands)
	assert.Equal(t, []string{"bad_alias"}, res.Blacklisted)
	assert.Equal(t, []closure.MissingFirmware{{Module: "a", Name: "vendor/missing.bin"}}, res.MissingFirmware)
	assert.Equal(t, []closure.MissingFirmware{{Module: "a", Name: "../../etc/passwd"}, {Module: "a", Name: "/etc/shadow"}}, res.BadFirmware)
}

func TestComputeSuffixesFromKernelConfig(t *testing.T) {
	root := closureTree(t)
	l := openLoader(t, root)
	fw := filepath.Join(root, "lib/firmware")
	touch(t, filepath.Join(fw, "d.fw.zst"))
	touch(t, filepath.Join(fw, release, "d.fw.xz"))
	for _, tc := range []struct {
		config string
		want   []string
	}{
		{"CONFIG_FW_LOADER_COMPRESS=y\nCONFIG_FW_LOADER_COMPRESS_XZ=y\n# CONFIG_FW_LOADER_COMPRESS_ZSTD is not set\n", []string{filepath.Join(fw, release, "d.fw.xz")}},
		{"CONFIG_FW_LOADER_COMPRESS_XZ=y\nCONFIG_FW_LOADER_COMPRESS_ZSTD=y\n", []string{filepath.Join(fw, "d.fw.zst")}},
		{"# CONFIG_FW_LOADER_COMPRESS is not set\n", nil},
	} {
		touch(t, filepath.Join(root, "boot/config-"+release))
		require.NoError(t, os.WriteFile(filepath.Join(root, "boot/config-"+release), []byte(tc.config), 0o644))
		res, err := closure.Compute(context.Background(), l, []string{"d"}, closure.Options{})
		require.NoError(t, err)
		var fws []string
		for _, f := range res.Files {
			if f.Reason == closure.Firmware {
				fws = append(fws, f.Path)
			}
		}
		assert.Equal(t, tc.want, fws, "config %q", tc.config)
	}
}

func TestComputeErrors(t *testing.T) {
	root := closureTree(t)
	l := openLoader(t, root)
	_, err := closure.Compute(context.Background(), l, []string{"a", "no-such-module"}, closure.Options{})
	require.ErrorIs(t, err, modprobe.ErrNotFound)
	assert.Contains(t, err.Error(), "no-such-module")

	// A module file that is not a module: the error names it.
	bad := filepath.Join(testmod.ModuleDir(root, release), "kernel/e.ko")
	require.NoError(t, os.WriteFile(bad, []byte("not an ELF file at all"), 0o644))
	_, err = closure.Compute(context.Background(), l, []string{"w"}, closure.Options{})
	require.ErrorIs(t, err, closure.ErrModule)
	assert.Contains(t, err.Error(), bad)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = closure.Compute(ctx, l, []string{"a"}, closure.Options{})
	require.ErrorIs(t, err, context.Canceled)
}
