package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe/isula"
	"github.com/gokmod/modprobe/kata"
	"github.com/gokmod/modprobe/modprobetest"

	"github.com/gokmod/modprobe/internal/cli"
)

// Every input a tool reads by path or from standard input is bounded
// before it is parsed and never waited on: each row gives one input as a
// FIFO without a writer (refused at once, the error naming it), as
// /dev/zero (cut at its bound) or as a regular file one byte over its
// bound, and checks the tool's messages and exit status, that nothing
// reached the (fake) kernel, and, for depmod, that no index was written.
// Where kmod reads such a file (modprobe -C, depmod's -F and -E read
// devices), gokmod keeps kmod's behaviour and only adds the bound.

// boundedCase is one row.
type boundedCase struct {
	name string
	// input makes the hostile input in dir and returns its path.
	input func(t *testing.T, dir string) string
	// args returns the tool and its arguments for the input at in, on
	// the tree at root.
	args func(root, in string) []string
	// vars is the tool's environment; {IN} stands for the input's path.
	vars map[string]string
	// stdin makes the tool's standard input from the input's path.
	stdin func(t *testing.T, in string) io.Reader
	code  int
	// stdout and stderr are the tool's output; {IN} stands for the
	// input's path, {ROOT} for the tree's root.
	stdout, stderr string
	// inserted is what the fake kernel must have inserted.
	inserted []string
	// indexed: depmod wrote its indexes (else it must not have).
	indexed bool
}

// fifoInput makes a FIFO without a writer.
func fifoInput(name string) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// zeroInput is /dev/zero, under name when name is set (a link).
func zeroInput(name string) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		if name == "" {
			return "/dev/zero"
		}
		p := filepath.Join(dir, name)
		if err := os.Symlink("/dev/zero", p); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// overInput makes a regular file of limit+1 bytes (sparse: zeros).
func overInput(name string, limit int64) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(limit + 1); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// openStdin opens the input as standard input.
func openStdin(t *testing.T, in string) io.Reader {
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// hookState is the state naming the bundle whose config.json is in.
func hookState(t *testing.T, in string) io.Reader {
	return strings.NewReader(`{"bundle":"` + filepath.Dir(in) + `"}`)
}

func boundedCases() []boundedCase {
	const kataMax, hookMax = "524288", "16777216"
	kataConfig := func(_, in string) []string { return []string{"kata", "-n", "--config", in} }
	hook := func(root, _ string) []string { return []string{"oci-hook", "-d", root} }
	insmod := func(_, in string) []string { return []string{"insmod", in} }
	modinfo := func(_, in string) []string { return []string{"modinfo", in} }
	exports := func(root, in string) []string { return []string{"modprobe", "-d", root, "--show-exports", in} }
	modprobeC := func(root, in string) []string { return []string{"modprobe", "-d", root, "-C", in, "x"} }
	depmodWith := func(opt string) func(root, in string) []string {
		return func(root, in string) []string { return []string{"depmod", "-b", root, opt, in, fakeRelease} }
	}
	// What depmod says of fakeTree's tree, which has neither file.
	treeWarnings := "depmod: WARNING: could not open modules.order at {ROOT}/lib/modules/" + fakeRelease + ": No such file or directory\n" +
		"depmod: WARNING: could not open modules.builtin.modinfo at {ROOT}/lib/modules/" + fakeRelease + ": No such file or directory\n"
	dirFIFO := func(t *testing.T, root string) string {
		dir := filepath.Join(root, "lib/modules", fakeRelease)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(dir, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return []boundedCase{
		{name: "kata --config FIFO", input: fifoInput("configuration.toml"), args: kataConfig, code: 1, stderr: "kata: open {IN}: invalid argument\n"},
		{name: "kata --config /dev/zero", input: zeroInput(""), args: kataConfig, code: 1, stderr: "kata: read {IN}: file too large: more than " + kataMax + " bytes\n"},
		{name: "kata --config over the bound", input: overInput("configuration.toml", kata.MaxConfigSize), args: kataConfig, code: 1, stderr: "kata: read {IN}: file too large: more than " + kataMax + " bytes\n"},
		{name: "kata $KATA_CONF_FILE FIFO", input: fifoInput("configuration.toml"), args: func(string, string) []string { return []string{"kata", "-n"} },
			vars: map[string]string{"KATA_CONF_FILE": "{IN}"}, code: 1, stderr: "kata: open {IN}: invalid argument\n"},
		{name: "kata $KATA_CONF_FILE /dev/zero", input: zeroInput("configuration.toml"), args: func(string, string) []string { return []string{"kata", "-n"} },
			vars: map[string]string{"KATA_CONF_FILE": "{IN}"}, code: 1, stderr: "kata: read {IN}: file too large: more than " + kataMax + " bytes\n"},

		{name: "oci-hook config.json FIFO", input: fifoInput("config.json"), args: hook, stdin: hookState, code: 1, stderr: "[module-hook] open {IN}: invalid argument\n"},
		{name: "oci-hook config.json /dev/zero", input: zeroInput("config.json"), args: hook, stdin: hookState, code: 1, stderr: "[module-hook] read {IN}: file too large: more than " + hookMax + " bytes\n"},
		{name: "oci-hook config.json over the bound", input: overInput("config.json", isula.MaxInputSize), args: hook, stdin: hookState, code: 1, stderr: "[module-hook] read {IN}: file too large: more than " + hookMax + " bytes\n"},
		{name: "oci-hook state /dev/zero", input: zeroInput(""), args: hook, stdin: openStdin, code: 1, stderr: "[module-hook] state: reading standard input: file too large: more than " + hookMax + " bytes\n"},
		{name: "oci-hook state over the bound", input: overInput("state.json", isula.MaxInputSize), args: hook, stdin: openStdin, code: 1, stderr: "[module-hook] state: reading standard input: file too large: more than " + hookMax + " bytes\n"},

		{name: "insmod FIFO", input: fifoInput("m.ko"), args: insmod, code: 1, stderr: "insmod: ERROR: could not insert module {IN}: open {IN}: invalid argument\n"},
		{name: "insmod /dev/zero", input: zeroInput(""), args: insmod, code: 1, stderr: "insmod: ERROR: could not insert module {IN}: open {IN}: invalid argument\n"},
		// A FIFO is not a module file to modinfo (kmod's test is
		// S_ISREG): it is looked up as a name.
		{name: "modinfo FIFO", input: fifoInput("m.ko"), args: modinfo, code: 1, stderr: "modinfo: ERROR: Module {IN} not found.\n"},
		{name: "modinfo over MaxModuleSize", input: overInput("big.ko", 512<<20), args: modinfo, code: 1,
			stdout: "filename:       {IN}\n", stderr: "modinfo: ERROR: could not get modinfo from 'big': File too large\n"},
		{name: "modprobe --show-exports over MaxModuleSize", input: overInput("big.ko", 512<<20), args: exports, code: 1,
			stderr: "modprobe: FATAL: could not get symbols of {IN}: File too large\n"},
		// libkmod skips a configuration file it cannot open, silently,
		// and reads a device up to the bound.
		{name: "modprobe -C FIFO", input: fifoInput("m.conf"), args: modprobeC, inserted: []string{"x"}},
		{name: "modprobe -C /dev/zero", input: zeroInput(""), args: modprobeC, inserted: []string{"x"},
			stderr: "modprobe: ERROR: {IN}: file larger than 67108864 bytes, read up to line end 0\n"},

		{name: "depmod -F FIFO", input: fifoInput("System.map"), args: depmodWith("-F"), code: 1, stderr: "depmod: FATAL: could not load {IN}: Invalid argument\n"},
		{name: "depmod -F /dev/zero", input: zeroInput(""), args: depmodWith("-F"), code: 1, stderr: "depmod: FATAL: could not load {IN}: File too large\n"},
		{name: "depmod -F over the bound", input: overInput("System.map", 64<<20), args: depmodWith("-F"), code: 1, stderr: "depmod: FATAL: could not load {IN}: File too large\n"},
		{name: "depmod -E FIFO", input: fifoInput("Module.symvers"), args: depmodWith("-E"), code: 1, stderr: "depmod: FATAL: could not load {IN}: Invalid argument\n"},
		{name: "depmod -E /dev/zero", input: zeroInput(""), args: depmodWith("-E"), code: 1, stderr: "depmod: FATAL: could not load {IN}: File too large\n"},
		{name: "depmod -E over the bound", input: overInput("Module.symvers", 64<<20), args: depmodWith("-E"), code: 1, stderr: "depmod: FATAL: could not load {IN}: File too large\n"},
		// A depmod.d file that cannot be read is reported and skipped.
		{name: "depmod -C FIFO", input: fifoInput("depmod.conf"), args: depmodWith("-C"), indexed: true, stderr: "depmod: ERROR: file parse {IN}: Invalid argument\n" + treeWarnings},
		{name: "depmod -C /dev/zero", input: zeroInput(""), args: depmodWith("-C"), indexed: true, stderr: "depmod: ERROR: file parse {IN}: File too large\n" + treeWarnings},
		{name: "depmod -C over the bound", input: overInput("depmod.conf", 64<<20), args: depmodWith("-C"), indexed: true, stderr: "depmod: ERROR: file parse {IN}: File too large\n" + treeWarnings},
		// The module directory replaced by a FIFO: opendir's ENOTDIR,
		// not a wait for a writer.
		{name: "depmod module directory FIFO", input: func(t *testing.T, root string) string { return dirFIFO(t, root) },
			args: func(root, _ string) []string { return []string{"depmod", "-b", root, fakeRelease} }, code: 1,
			stderr: "depmod: ERROR: could not open directory {IN}: Not a directory\ndepmod: FATAL: could not search modules: Not a directory\n"},
	}
}

// runBounded runs a tool on the fake kernel with stdin, failing the test
// if it has not returned within 20 s (a wait on a FIFO).
func runBounded(t *testing.T, k *modprobetest.Kernel, vars map[string]string, stdin io.Reader, args []string) outcome {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		Stdin:  stdin,
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(key string) (string, bool) { v, ok := vars[key]; return v, ok },
		Setenv: func(key, v string) { vars[key] = v },
		Kernel: &cli.FakeKernel{Kernel: k, Sysfs: k.SysfsDir(), Proc: k.ProcDir(), KmsgPath: k.KmsgPath()},
	}
	done := make(chan int, 1)
	go func() { done <- run(e, append([]string{"/sbin/gokmod"}, args...)) }()
	select {
	case code := <-done:
		return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
	case <-time.After(20 * time.Second):
		t.Fatalf("gokmod %q has not returned after 20 s: it waits on its input", args)
		return outcome{}
	}
}

func TestBoundedInputs(t *testing.T) {
	for _, c := range boundedCases() {
		t.Run(c.name, func(t *testing.T) {
			root, k := fakeTree(t)
			dir := t.TempDir()
			if strings.Contains(c.name, "module directory") {
				dir = root
			}
			in := c.input(t, dir)
			vars := map[string]string{}
			for key, v := range c.vars {
				vars[key] = strings.ReplaceAll(v, "{IN}", in)
			}
			var stdin io.Reader = strings.NewReader("")
			if c.stdin != nil {
				stdin = c.stdin(t, in)
			}
			got := runBounded(t, k, vars, stdin, c.args(root, in))
			fill := strings.NewReplacer("{IN}", in, "{ROOT}", root)
			want := outcome{Stdout: fill.Replace(c.stdout), Stderr: fill.Replace(c.stderr), Code: c.code}
			if got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			var inserted []string
			for _, ins := range k.Inserts() {
				inserted = append(inserted, ins.Module)
			}
			if strings.Join(inserted, " ") != strings.Join(c.inserted, " ") {
				t.Errorf("inserted %q, want %q", inserted, c.inserted)
			}
			bin := filepath.Join(root, "lib/modules", fakeRelease, "modules.dep.bin")
			if _, err := os.Stat(bin); (err == nil) != c.indexed {
				t.Errorf("modules.dep.bin written: %v, want %v", err == nil, c.indexed)
			}
		})
	}
}
