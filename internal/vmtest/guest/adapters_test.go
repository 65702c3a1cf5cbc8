//go:build vmguest

package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/vmtest"
	"github.com/gokmod/modprobe/isula"
	"github.com/gokmod/modprobe/kata"
)

// The adapters in a real kernel: Kata's list and iSulad's KERNEL_MODULES
// through the library and through gokmod kata and gokmod oci-hook. The
// bundles under /testdata/bundles were made by runc spec on the host.

const kataConfig = vmtest.TestdataDir + "/kata/configuration.toml"

// param returns a module parameter as the kernel shows it.
func param(t *testing.T, module, name string) string {
	t.Helper()
	return strings.TrimSuffix(readFile(t, "/sys/module/"+module+"/parameters/"+name), "\n")
}

// dummies reports which of dummy0..dummy3 exist.
func dummies(t *testing.T) string {
	t.Helper()
	var s []string
	for i := range 4 {
		if exists(t, fmt.Sprintf("/sys/class/net/dummy%d", i)) {
			s = append(s, fmt.Sprintf("dummy%d", i))
		}
	}
	return strings.Join(s, ",")
}

func TestKataAdapter(t *testing.T) {
	freshKernel(t)
	data, err := os.ReadFile(kataConfig)
	if err != nil {
		t.Fatal(err)
	}
	config, err := kata.ParseConfig(data, kataConfig)
	if err != nil {
		t.Fatal(err)
	}
	// runtime-rs appends the annotation; a quoted value with a space is
	// one parameter, quotes kept for the kernel.
	reqs, err := kata.Merge(kata.Append, config, map[string]string{kata.Annotation: `snd_sof_pci fw_path="/lib/a b"; ip_vs_rr`})
	if err != nil {
		t.Fatal(err)
	}
	l := loader(t)
	if err := kata.Load(context.Background(), l, reqs, modprobe.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := dummies(t); got != "dummy0,dummy1,dummy2" {
		t.Errorf("devices %s; want dummy0-2 from numdummies=3", got)
	}
	if got := param(t, "ip_vs", "conn_tab_bits"); got != "11" {
		t.Errorf("ip_vs conn_tab_bits = %s", got)
	}
	if got := param(t, "snd_sof_pci", "fw_path"); got != "/lib/a b" {
		t.Errorf("snd_sof_pci fw_path = %q; want the quoted value with its space", got)
	}
	if !live(t, "ip_vs_rr") {
		t.Error("ip_vs_rr not live")
	}

	// In order, stopping at the first failure; an already loaded module
	// (dummy) is success and keeps its parameters.
	reqs, err = kata.ParseAnnotation("dummy numdummies=1; nosuch_module; ip_vs_wrr")
	if err != nil {
		t.Fatal(err)
	}
	err = kata.Load(context.Background(), l, reqs, modprobe.LoadOptions{})
	if !errors.Is(err, modprobe.ErrNotFound) {
		t.Fatalf("Load: %v; want nosuch_module not found", err)
	}
	if live(t, "ip_vs_wrr") {
		t.Error("ip_vs_wrr loaded after the failure")
	}
	if got := dummies(t); got != "dummy0,dummy1,dummy2" {
		t.Errorf("devices %s after loading dummy again", got)
	}
}

func TestIsulaAdapter(t *testing.T) {
	freshKernel(t)
	env, err := isula.ParseEnv([]string{"PATH=/bin", "KERNEL_MODULES=nosuch_module,ip_vs_wrr,dummy"})
	if err != nil {
		t.Fatal(err)
	}
	err = isula.Load(context.Background(), loader(t), env.Requests, modprobe.LoadOptions{Jobs: 2})
	var me *modprobe.ModuleError
	if !errors.Is(err, modprobe.ErrNotFound) || !errors.As(err, &me) || me.Module != "nosuch_module" {
		t.Fatalf("Load: %v; want nosuch_module not found", err)
	}
	for _, m := range []string{"ip_vs_wrr", "ip_vs", "dummy"} {
		if !live(t, m) {
			t.Errorf("%s not live: -a goes on after a failure", m)
		}
	}
}

// hook runs gokmod oci-hook with the state runc would give it for the
// bundle, and returns its output and exit status.
func hook(t *testing.T, bundle string, args ...string) (string, int) {
	t.Helper()
	state := fmt.Sprintf(`{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","pid":1,"bundle":%q}`, bundle)
	cmd := exec.Command("/bin/gokmod", append([]string{"oci-hook"}, args...)...)
	cmd.Stdin = strings.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

func TestOCIHookTool(t *testing.T) {
	freshKernel(t)
	out, code := hook(t, vmtest.TestdataDir+"/bundles/hook", "-v")
	// KERNEL_MODULES=ip_vs_wrr,,dummy,nosuch_module: modprobe -a.
	if code != 1 || !strings.Contains(out, "modprobe: WARNING: Module nosuch_module not found in directory /lib/modules/") ||
		!strings.Contains(out, `[module-hook] Failed to modprobe modules (["ip_vs_wrr" "dummy" "nosuch_module"]) to host : 1 of 3 failed`) ||
		!strings.Contains(out, "/ip_vs_wrr.ko") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, m := range []string{"ip_vs_wrr", "ip_vs", "dummy"} {
		if !live(t, m) {
			t.Errorf("%s not live after the hook", m)
		}
	}

	// KERNEL_MODULES=-r,ip_vs: iSulad's hook would run modprobe -a -r
	// ip_vs and remove a module the host uses. gokmod refuses the start
	// and leaves the kernel alone.
	out, code = hook(t, vmtest.TestdataDir+"/bundles/evil")
	if code != 1 || !strings.Contains(out, `KERNEL_MODULES: item "-r": invalid module name`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !live(t, "ip_vs") {
		t.Fatal("ip_vs removed through KERNEL_MODULES")
	}
	// What iSulad's hook runs for the same variable does remove it.
	run(t, "/sbin/modprobe", "-r", "ip_vs_wrr")
	run(t, "/sbin/modprobe", "ip_vs")
	run(t, "/sbin/modprobe", "-a", "-r", "ip_vs")
	if live(t, "ip_vs") {
		t.Error("kmod's modprobe -a -r ip_vs left ip_vs: the contrast does not hold")
	}
}

func TestKataTool(t *testing.T) {
	freshKernel(t)
	out := run(t, "/bin/gokmod", "kata", "--config", kataConfig, "--annotation", "ip_vs_sh", "--annotation-mode", "append", "-v")
	ko := treeSuffix(t)
	if !strings.Contains(out, "/dummy"+ko+" numdummies=3\n") || !strings.Contains(out, "/ip_vs"+ko+" conn_tab_bits=11\n") || !strings.HasSuffix(out, "/ip_vs_sh"+ko+" \n") {
		t.Errorf("gokmod kata -v printed:\n%s", out)
	}
	if got := dummies(t); got != "dummy0,dummy1,dummy2" {
		t.Errorf("devices %s", got)
	}
	if got := param(t, "ip_vs", "conn_tab_bits"); got != "11" {
		t.Errorf("ip_vs conn_tab_bits = %s", got)
	}
	if !live(t, "ip_vs_sh") {
		t.Error("ip_vs_sh not live")
	}

	// The first failure ends it with modprobe's message, as Kata's agent
	// shows it.
	cmd := exec.Command("/bin/gokmod", "kata", "--config", kataConfig, "--annotation", "ip_vs_lc; nosuch_module; ip_vs_nq")
	out2, err := cmd.CombinedOutput()
	if err == nil || !strings.HasPrefix(string(out2), "modprobe: FATAL: Module nosuch_module not found in directory /lib/modules/") {
		t.Fatalf("gokmod kata: %v\n%s", err, out2)
	}
	if !live(t, "ip_vs_lc") || live(t, "ip_vs_nq") {
		t.Error("want ip_vs_lc live and ip_vs_nq never loaded")
	}
}
