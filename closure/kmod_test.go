package closure_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/closure"
	"github.com/gokmod/modprobe/internal/testmod"
)

// TestMatchesKmod compares the closure of a sample of each Debian tree's
// modules with what kmod gives for the same names: the module files are
// modprobe -D -a's insmod lines (each once, in order), the firmware files
// are modinfo -F firmware of those files, each looked up in a firmware
// directory made here holding some of the names plain, some compressed in
// the forms the tree's kernel reads (its boot/config) and some not at all.
func TestMatchesKmod(t *testing.T) {
	t.Run("debian12", func(t *testing.T) {
		root, rel := testmod.DebianTree(t)
		tool := func(name string) string { p, err := testmod.FindTool(name); require.NoError(t, err); return p }
		compareKmod(t, root, rel, modprobe.CompatKmod30, tool("modprobe"), tool("modinfo"), []string{".xz"})
	})
	t.Run("debian13", func(t *testing.T) {
		root, rel := testmod.Debian13Tree(t)
		compareKmod(t, root, rel, modprobe.CompatKmod34, testmod.Kmod34Tool(t, "modprobe"), testmod.Kmod34Tool(t, "modinfo"), []string{".zst", ".xz"})
	})
}

func compareKmod(t *testing.T, root, rel string, compat modprobe.Compat, modprobeTool, modinfoTool string, suffixes []string) {
	ctx := context.Background()
	noConfig := t.TempDir()
	names := sampleNames(t, root, rel)
	t.Logf("%d names", len(names))

	out := runTool(t, modprobeTool, append([]string{"-d", root, "-S", rel, "-C", noConfig, "-D", "-a"}, names...)...)
	var wantMods, wantBuiltin []string
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "insmod "); ok {
			p = strings.TrimSpace(p)
			if !slices.Contains(wantMods, p) {
				wantMods = append(wantMods, p)
			}
		}
		if m, ok := strings.CutPrefix(line, "builtin "); ok && !slices.Contains(wantBuiltin, m) {
			wantBuiltin = append(wantBuiltin, m)
		}
	}
	require.NotEmpty(t, wantMods)

	// modinfo prints the fields of its arguments in their order.
	var fwNames []string
	for _, fw := range strings.Fields(runTool(t, modinfoTool, append([]string{"-F", "firmware"}, wantMods...)...)) {
		if !slices.Contains(fwNames, fw) {
			fwNames = append(fwNames, fw)
		}
	}
	// Every third name plain, every third .zst, every third .xz: the
	// kernel reads the compressed ones only in the forms it was built
	// for.
	fwDir := t.TempDir()
	var wantFw []string
	for i, fw := range fwNames {
		form := []string{"", ".zst", ".xz"}[i%3]
		touch(t, filepath.Join(fwDir, fw+form))
		if form == "" || slices.Contains(suffixes, form) {
			wantFw = append(wantFw, filepath.Join(fwDir, fw+form))
		}
	}

	l, err := modprobe.Open(modprobe.Options{RootDir: root, KernelRelease: rel, ConfigPaths: []string{noConfig}, Compat: compat})
	require.NoError(t, err)
	defer l.Close()
	res, err := closure.Compute(ctx, l, names, closure.Options{FirmwareDirs: []string{fwDir}})
	require.NoError(t, err)
	var gotMods, gotFw []string
	for _, f := range res.Files {
		if f.Reason == closure.Firmware {
			gotFw = append(gotFw, f.Path)
		} else {
			gotMods = append(gotMods, f.Path)
		}
	}
	assert.Equal(t, wantMods, gotMods)
	assert.Equal(t, wantBuiltin, res.Builtin)
	assert.Equal(t, wantFw, gotFw)
	assert.Len(t, res.MissingFirmware, len(fwNames)-len(wantFw))
	t.Logf("%d module files, %d builtin modules and %d firmware files identical (%d firmware names, %d not read by this kernel)",
		len(gotMods), len(res.Builtin), len(gotFw), len(fwNames), len(res.MissingFirmware))
}

// sampleNames returns every 25th module of the tree's modules.dep (every
// one with GOKMOD_CLOSURE_ALL=1), every module with a softdep in
// modules.softdep, and a few drivers known to name many firmware files.
func sampleNames(t *testing.T, root, rel string) []string {
	dir := filepath.Join(root, "lib/modules", rel)
	var names []string
	add := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	every := 25
	if os.Getenv("GOKMOD_CLOSURE_ALL") == "1" {
		every = 1
	}
	lines := readLines(t, filepath.Join(dir, "modules.dep"))
	for i, line := range lines {
		if i%every == 0 {
			file, _, _ := strings.Cut(line, ":")
			add(testmod.ModName(file))
		}
	}
	for _, line := range readLines(t, filepath.Join(dir, "modules.softdep")) {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "softdep" {
			add(f[1])
		}
	}
	// Drivers that name firmware.
	for _, n := range []string{"iwlwifi", "amdgpu", "e100", "bnx2", "r8169", "btusb", "ath10k_pci", "i915"} {
		add(n)
	}
	return names
}

func readLines(t *testing.T, path string) []string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines
}

// runTool runs a kmod tool and returns its standard output; it must exit 0.
func runTool(t *testing.T, path string, args ...string) string {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s: %s", path, strings.Join(args, " "), stderr.String())
	return string(out)
}
