package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// kataConf writes a configuration.toml whose [agent.kata] kernel_modules
// is list (TOML array items).
func kataConf(t *testing.T, list string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "configuration.toml")
	content := "[hypervisor.qemu]\npath = \"/usr/bin/qemu-system-x86_64\"\n\n[agent.kata]\ndebug = true\nkernel_modules = [" + list + "]\n\n[runtime]\nenable_debug = false\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKataLoadsInOrder(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	conf := kataConf(t, `"p count=3", "x"`)
	o := runFake(k, "gokmod", "kata", "--config", conf, "--annotation", " c ; bi", "--annotation-mode", "append", "-d", root, "-v")
	expect(t, o, 0, "insmod "+dir+"/kernel/p.ko count=3\ninsmod "+dir+"/kernel/x.ko \ninsmod "+dir+"/kernel/a.ko \ninsmod "+dir+"/kernel/b.ko \ninsmod "+dir+"/kernel/c.ko \n", "")
	var got []string
	for _, in := range k.Inserts() {
		got = append(got, in.Module+" "+in.Params)
	}
	if want := []string{"p count=3", "x ", "a ", "b ", "c "}; !reflect.DeepEqual(got, want) {
		t.Fatalf("inserts %q; want %q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(k.SysfsDir(), "module/p/parameters/count")); string(b) != "3\n" {
		t.Fatalf("count = %q", b)
	}
}

func TestKataReplaceAndDryRun(t *testing.T) {
	root, k := fakeTree(t)
	conf := kataConf(t, `"p count=3", "x"`)
	// Replace is the default: the annotation's list only.
	expect(t, runFake(k, "kata", "--config", conf, "--annotation", `c label="a b"  q=1; bi`, "-n"), 0, "c label=\"a b\" q=1\nbi\n", "")
	expect(t, runFake(k, "kata", "--config", conf, "--annotation", "", "-n"), 0, "", "")
	expect(t, runFake(k, "kata", "--config", conf, "-n"), 0, "p count=3\nx\n", "")
	expect(t, runFake(k, "kata", "--config", conf, "--annotation", "c", "--annotation-mode=append", "-n"), 0, "p count=3\nx\nc\n", "")
	// $KATA_CONF_FILE names the file when --config does not.
	expect(t, runFakeEnv(k, map[string]string{"KATA_CONF_FILE": conf}, "kata", "-n"), 0, "p count=3\nx\n", "")
	expect(t, runFake(k, "kata", "--annotation", "x", "-d", root), 0, "", "")
	if got := live(k); !reflect.DeepEqual(got, []string{"x"}) {
		t.Fatalf("live %q", got)
	}
}

func TestKataStopsAtFirstFailure(t *testing.T) {
	root, k := fakeTree(t)
	dir := root + "/lib/modules/" + fakeRelease
	conf := kataConf(t, `"x", "nosuch", "c"`)
	expect(t, runFake(k, "kata", "--config", conf, "-d", root), 1, "", "modprobe: FATAL: Module nosuch not found in directory "+dir+"\n")
	if got := live(k); !reflect.DeepEqual(got, []string{"x"}) {
		t.Fatalf("live %q; want x only", got)
	}
	o := runFake(k, "kata", "--annotation", "p count=many; c", "-d", root)
	expect(t, o, 1, "", "modprobe: ERROR: could not insert 'p': Invalid argument\n")
	if k.IsLive("c") {
		t.Fatal("c loaded after p failed")
	}
}

func TestKataRefuses(t *testing.T) {
	root, k := fakeTree(t)
	wrongType := kataConf(t, "")
	if err := os.WriteFile(wrongType, []byte("[agent.kata]\nkernel_modules = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"-r as a name", []string{"--annotation", "x; -r c"}, `kata: annotation io.katacontainers.config.agent.kernel_modules: element 2 " -r c": invalid module name: module name "-r" starts with '-'`},
		{"-d as a parameter", []string{"--annotation", "x -d /run/kata"}, `kata: annotation io.katacontainers.config.agent.kernel_modules: element 1 "x -d /run/kata": invalid module parameters: parameter "-d" starts with '-'`},
		{"unbalanced quote", []string{"--config", kataConf(t, `"x", 'p label="a'`)}, `element 2 "p label=\"a": unbalanced double quote`},
		{"wrong type", []string{"--config", wrongType}, "kata: " + wrongType + `: toml: line 2 (last key "agent.kata.kernel_modules"): incompatible types: TOML value has type string; destination has type slice`},
		{"missing file", []string{"--config", "/nonexistent/configuration.toml"}, "kata: open /nonexistent/configuration.toml: no such file or directory"},
		{"bad mode", []string{"--annotation-mode", "merge"}, `kata: unknown annotation mode "merge" (want replace or append)`},
		{"an operand", []string{"x"}, `kata: unexpected argument "x". See -h.`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := runFake(k, "kata", append([]string{"-d", root}, tc.args...)...)
			if o.Code != 1 || o.Stdout != "" || !strings.Contains(o.Stderr, tc.stderr) || strings.Count(o.Stderr, "\n") != 1 {
				t.Fatalf("got:\n%s\nwant exit 1 and %q", o, tc.stderr)
			}
			if len(k.Inserts()) != 0 {
				t.Fatalf("inserts %v", k.Inserts())
			}
		})
	}
}
