package vmtest_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/internal/vmtest"
	"github.com/gokmod/modprobe/preflight"
)

// preflightDir is where the guest finds preflight's inputs and its plan.
const preflightDir = vmtest.TestdataDir + "/preflight"

// preflightEvery picks the sample of the other release's modules: every
// preflightEvery-th module file, in path order, with its dependencies.
const preflightEvery = 150

// preflightAll reports whether the whole other release is to be tried
// (GOKMOD_PREFLIGHT_ALL=1), on Debian 13 only: Debian 12's modules, xz
// compressed, which Debian 13's kernel decompresses.
func preflightAll(d distribution) bool {
	return os.Getenv("GOKMOD_PREFLIGHT_ALL") != "" && d.name == "debian13"
}

// preflightFiles returns the inputs of the guest's TestPreflightVerdicts,
// below preflightDir: modules of the other Debian release (a sample with
// their dependencies, or all of them, see preflightAll), the
// distribution's own dummy, macvlan and macvtap changed to meet one check
// each (testmod.PreflightCases), the distribution's modules those need,
// and plan.json: preflight's verdict on each against the distribution's
// tree and its Module.symvers, and the files to load before it.
func preflightFiles(t *testing.T, ctx context.Context, d distribution) map[string]vmtest.File {
	t.Helper()
	var other, own struct{ root, release, symvers string }
	own.root, own.release = d.root, d.release
	if d.name == "debian13" {
		own.symvers = testmod.DebianSymvers13(t)
		other.root, other.release = testmod.DebianTree(t)
	} else {
		own.symvers = testmod.DebianSymvers(t)
		other.root, other.release = testmod.Debian13Tree(t)
	}
	host := t.TempDir()
	write := func(p string, data []byte) {
		writeHostFile(t, p, data)
	}
	image := func(p string) []byte {
		// Not an input: a module of the Debian tree the suite unpacked.
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := modfile.DecompressBytes(data, modprobe.DefaultMaxModuleSize)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return img
	}

	// The other release's modules, as the guest's kernel can read them.
	otherDir := testmod.ModuleDir(other.root, other.release)
	var all []string
	err := filepath.WalkDir(filepath.Join(otherDir, "kernel"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && depmod.IsModuleFile(e.Name()) {
			rel, _ := filepath.Rel(otherDir, p)
			all = append(all, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	rels := all
	if !preflightAll(d) {
		var names []string
		for i := 0; i < len(all); i += preflightEvery {
			names = append(names, testmod.ModName(all[i]))
		}
		if rels, err = vmtest.ModuleClosure(other.root, other.release, names); err != nil {
			t.Fatal(err)
		}
	}
	otherHost := filepath.Join(host, "other")
	for _, rel := range rels {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(rel, ".xz"), ".zst"), ".gz")
		img := image(filepath.Join(otherDir, rel))
		if preflightAll(d) {
			write(filepath.Join(otherHost, base+".xz"), xzModule(t, ctx, img))
		} else {
			write(filepath.Join(otherHost, base), img)
		}
	}

	// The distribution's own modules, changed.
	ownDir := testmod.ModuleDir(own.root, own.release)
	imgs := map[string][]byte{}
	closure, err := vmtest.ModuleClosure(own.root, own.release, []string{"dummy", "macvtap", "ums-alauda"})
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range closure {
		imgs[testmod.ModName(rel)] = image(filepath.Join(ownDir, rel))
	}
	cases, err := testmod.PreflightCases(imgs)
	if err != nil {
		t.Fatal(err)
	}
	casesHost := filepath.Join(host, "cases")
	for _, c := range cases {
		for name, img := range c.Files {
			write(filepath.Join(casesHost, name), img)
		}
	}

	// preflight's verdicts, and the guest paths of the files to load.
	files := map[string]vmtest.File{}
	guestPath := func(p string) string {
		if rel, err := filepath.Rel(host, p); err == nil && !strings.HasPrefix(rel, "..") {
			return preflightDir + "/" + rel
		}
		rel, err := filepath.Rel(ownDir, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("dependency %s is neither a module given nor the tree's", p)
		}
		// A module of the distribution's tree a module given needs.
		files[preflightDir+"/target/"+rel] = vmtest.HostFile(p)
		return preflightDir + "/target/" + rel
	}
	var plan []vmtest.PreflightEntry
	target := preflight.Target{BaseDir: own.root, Release: own.release, Symvers: own.symvers}
	for _, dir := range []string{otherHost, casesHost} {
		rep, err := preflight.Check(ctx, preflight.Options{Target: target}, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range rep.Verdicts {
			e := vmtest.PreflightEntry{Module: guestPath(v.Module), Loads: v.Loads()}
			if !e.Loads {
				e.Reason = preflightReason(v.Problems[0].Kind())
			}
			for _, dep := range v.Deps {
				e.Deps = append(e.Deps, guestPath(dep))
			}
			plan = append(plan, e)
		}
	}
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	given, err := vmtest.DirFiles(host, preflightDir)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(files, given)
	files[preflightDir+"/plan.json"] = vmtest.DataFile(data, 0o644)
	t.Logf("%s: preflight plan of %d modules (%d of the other release, %d cases)", d.name, len(plan), len(rels), len(plan)-len(rels))
	return files
}

// xzModule compresses a module image as kbuild does (CRC32 check, 1 MiB
// dictionary), with the host's xz.
func xzModule(t *testing.T, ctx context.Context, img []byte) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, "xz", "--check=crc32", "--lzma2=dict=1MiB", "-T1", "-c")
	cmd.Stdin = strings.NewReader(string(img))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz: %v", err)
	}
	return out
}

// preflightReason names a preflight problem kind as the guest's kernel
// log tells it (vmtest.RefusalReason).
func preflightReason(kind error) string {
	switch kind {
	case preflight.ErrModuleStruct:
		return vmtest.ReasonStruct
	case preflight.ErrCRC:
		return vmtest.ReasonCRC
	case preflight.ErrVermagic:
		return vmtest.ReasonVermagic
	case preflight.ErrUnknownSymbol:
		return vmtest.ReasonUnknown
	case preflight.ErrDependency:
		return vmtest.ReasonDependency
	case preflight.ErrSignature:
		return vmtest.ReasonSignature
	case preflight.ErrNamespace:
		return vmtest.ReasonNamespace
	}
	return vmtest.ReasonOther
}

// preflightMemory is the guest memory the preflight inputs need: 0 (the
// default) for the sample, more for every module of the other release.
func preflightMemory(d distribution) int {
	if preflightAll(d) {
		return 3072
	}
	return 0
}
