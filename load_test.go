package modprobe_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
)

// stackTree: dash -> c -> b -> a; soft has a softdep on x; inst has an
// install command.
var stackTree = map[string]string{
	"modules.dep": `kernel/x.ko:
kernel/a.ko:
kernel/b.ko: kernel/a.ko
kernel/c.ko.xz: kernel/b.ko kernel/a.ko
kernel/mod-dash.ko: kernel/c.ko.xz kernel/b.ko kernel/a.ko
kernel/soft.ko:
kernel/gz.ko.gz:
kernel/zst.ko.zst: kernel/a.ko
kernel/p.ko:
`,
	"modules.builtin": "kernel/bi.ko\n",
	"conf/t.conf": `options b opt_b=1
softdep soft pre: x
options p count=2
`,
}

// withFiles returns stackTree with more files.
func withFiles(more map[string]string) map[string]string {
	files := maps.Clone(stackTree)
	maps.Copy(files, more)
	return files
}

var stackInfo = map[string][]string{
	"b": {"opt_b:int"},
	"p": {"count:int", "name:charp"},
}

func TestLoadChain(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	var shown []string
	err := l.LoadWith(context.Background(), "mod-dash", nil, modprobe.LoadOptions{Show: func(a modprobe.Action) { shown = append(shown, a.String()) }})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lt.inserted(), []string{"a", "b", "c", "mod_dash"}; !slices.Equal(got, want) {
		t.Fatalf("inserted %v, want %v", got, want)
	}
	ins := lt.K.Inserts()
	if ins[1].Params != "opt_b=1 " {
		t.Errorf("b got params %q, want the configured option with kmod's trailing space", ins[1].Params)
	}
	if ins[0].File == "" || ins[3].File == "" {
		t.Errorf("plain modules must go through finit_module: %+v", ins)
	}
	if ins[2].File != "" || ins[2].Compressed {
		t.Errorf("c.ko.xz on a kernel without module decompression must be decompressed by gokmod and given to init_module: %+v", ins[2])
	}
	if len(shown) != 4 || !strings.HasPrefix(shown[0], "insmod "+lt.path("kernel/a.ko")) {
		t.Errorf("shown %q", shown)
	}
	if b, _ := os.ReadFile(filepath.Join(lt.K.SysfsDir(), "module/b/parameters/opt_b")); string(b) != "1\n" {
		t.Errorf("b's parameter reads %q", b)
	}

	// Everything is live now: loading again does nothing.
	if err := l.Load(context.Background(), "mod_dash"); err != nil {
		t.Fatal(err)
	}
	if n := len(lt.K.Inserts()); n != 4 {
		t.Errorf("%d inserts after a second load, want 4", n)
	}
	err = l.LoadWith(context.Background(), "mod_dash", nil, modprobe.LoadOptions{FirstTime: true})
	if !errors.Is(err, modprobe.ErrAlreadyLoaded) || !errors.Is(err, syscall.EEXIST) {
		t.Errorf("first-time load of a live module: %v", err)
	}
}

func TestLoadParamsAndBuiltin(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	if err := l.Load(ctx, "p", "name=a b", "count=3"); err != nil {
		t.Fatal(err)
	}
	ins := lt.K.Inserts()
	if len(ins) != 1 || ins[0].Params != `count=2 name="a b" count=3` {
		t.Fatalf("inserts %+v", ins)
	}
	if b, _ := os.ReadFile(filepath.Join(lt.K.SysfsDir(), "module/p/parameters/count")); string(b) != "3\n" {
		t.Errorf("count reads %q, want the caller's value, which comes last", b)
	}
	if err := l.Load(ctx, "bi"); err != nil {
		t.Errorf("builtin: %v", err)
	}
	if err := l.LoadWith(ctx, "bi", nil, modprobe.LoadOptions{FirstTime: true}); !errors.Is(err, modprobe.ErrAlreadyLoaded) {
		t.Errorf("first-time builtin: %v", err)
	}
	err := l.Load(ctx, "nosuch")
	if !errors.Is(err, modprobe.ErrNotFound) {
		t.Errorf("unknown module: %v", err)
	}
}

func TestLoadBadParameterValue(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	err := l.Load(context.Background(), "p", "count=x")
	var me *modprobe.ModuleError
	if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &me) {
		t.Fatalf("err = %v, want EINVAL", err)
	}
	if !errors.As(me.Err, &me) || len(me.KernelLog) != 1 || !strings.Contains(me.KernelLog[0], "invalid for parameter `count'") {
		t.Errorf("kernel log %q", me.KernelLog)
	}
}

func TestLoadFailureStops(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	lt.K.FailInsert("b", syscall.ENOEXEC)
	l := lt.open(t, modprobe.Options{})
	err := l.Load(context.Background(), "mod-dash")
	if !errors.Is(err, syscall.ENOEXEC) {
		t.Fatalf("err = %v, want ENOEXEC", err)
	}
	var me *modprobe.ModuleError
	if !errors.As(err, &me) || me.Op != "load" || me.Module != "mod_dash" {
		t.Fatalf("outer error %#v", me)
	}
	var inner *modprobe.ModuleError
	if !errors.As(me.Err, &inner) || inner.Op != "insert" || inner.Module != "b" || inner.Path != lt.path("kernel/b.ko") {
		t.Fatalf("inner error %#v", inner)
	}
	if got := lt.K.Loaded(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("loaded %v: nothing after the failing module may be inserted, and a stays", got)
	}
}

func TestLoadKernelLog(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	// insert b alone through its file: the fake kernel refuses it, as
	// a is not live, and says why in its log
	plan, err := l.Plan(context.Background(), "b", nil, modprobe.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr := plan.Probes[0]
	pr.Actions = pr.Actions[len(pr.Actions)-1:]
	err = l.LoadProbe(context.Background(), &pr, modprobe.LoadOptions{})
	var me *modprobe.ModuleError
	if !errors.As(err, &me) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("err = %v", err)
	}
	if len(me.KernelLog) != 1 || !strings.HasPrefix(me.KernelLog[0], "b: Unknown symbol") {
		t.Errorf("kernel log %q", me.KernelLog)
	}
	if !strings.Contains(err.Error(), "Unknown symbol") {
		t.Errorf("message %q does not carry the kernel's reason", err)
	}
}

func TestLoadSoftdepFailureIgnored(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	lt.K.FailInsert("x", syscall.EPERM)
	l := lt.open(t, modprobe.Options{})
	if err := l.Load(context.Background(), "soft"); err != nil {
		t.Fatal(err)
	}
	if got := lt.K.Loaded(); !slices.Equal(got, []string{"soft"}) {
		t.Errorf("loaded %v", got)
	}
}

func TestLoadInstallCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	lt := newLoadTree(t, withFiles(map[string]string{
		"conf/i.conf": "install p echo \"$MODPROBE_MODULE [$CMDLINE_OPTS]\" >" + out + "\ninstall x exit 3\n",
	}), stackInfo)
	var stdout strings.Builder
	l := lt.open(t, modprobe.Options{Stdout: &stdout})
	if err := l.Load(context.Background(), "p", "name=v"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "p [count=2 name=v]\n" {
		t.Errorf("install command wrote %q", b)
	}
	if len(lt.K.Inserts()) != 0 {
		t.Error("an install command replaces the insert")
	}
	err := l.Load(context.Background(), "x")
	var ce *modprobe.CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 3 || !errors.Is(err, modprobe.ErrCommandFailed) || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("failing install command: %v", err)
	}
	// -i inserts the module itself
	if err := l.LoadWith(context.Background(), "x", nil, modprobe.LoadOptions{IgnoreCommands: true}); err != nil {
		t.Fatal(err)
	}
	if !lt.K.IsLive("x") {
		t.Error("x not live after a load ignoring commands")
	}
}

func TestLoadCompressed(t *testing.T) {
	for _, tc := range []struct {
		kernel     string // /sys/module/compression
		module     string
		refuse     bool // the kernel's decompressor fails
		finit      bool
		compressed bool
	}{
		{"", "c", false, false, false},
		{"xz", "c", false, true, true},
		{"xz", "c", true, false, false},
		{"zstd", "c", false, false, false},
		{"zstd", "zst", false, true, true},
		{"gzip", "gz", false, true, true},
		{"xz", "gz", false, false, false},
		{"xz", "x", false, true, false},
	} {
		t.Run(tc.kernel+"/"+tc.module, func(t *testing.T) {
			lt := newLoadTree(t, stackTree, stackInfo)
			if err := lt.K.Preload("a"); err != nil {
				t.Fatal(err)
			}
			if err := lt.K.Preload("b", "a"); err != nil {
				t.Fatal(err)
			}
			if err := lt.K.SetCompression(tc.kernel); err != nil {
				t.Fatal(err)
			}
			if tc.refuse {
				lt.K.FailDecompress(lt.path("kernel/c.ko.xz"))
			}
			l := lt.open(t, modprobe.Options{})
			if err := l.Load(context.Background(), tc.module); err != nil {
				t.Fatal(err)
			}
			ins := lt.K.Inserts()
			last := ins[len(ins)-1]
			if last.Err != nil || last.Module != tc.module || (last.File != "") != tc.finit || last.Compressed != tc.compressed {
				t.Errorf("last insert %+v, want finit=%v compressed=%v", last, tc.finit, tc.compressed)
			}
			if tc.refuse && (len(ins) != 2 || ins[0].Err == nil) {
				t.Errorf("inserts %+v: want a refused compressed finit_module, then init_module", ins)
			}
		})
	}
}
