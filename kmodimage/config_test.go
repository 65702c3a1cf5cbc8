package kmodimage

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfigFixture(t *testing.T) {
	c, err := ReadConfig("testdata/worker-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &ModuleConfig{
		KernelVersion:         "6.1.0-13-amd64",
		ContainerImage:        "registry.example.com/drivers/ice-oot:6.1.0-13-amd64",
		ImagePullPolicy:       "IfNotPresent",
		InsecurePull:          true,
		InTreeModulesToRemove: []string{"irdma", "ice"},
		Modprobe: ModprobeSpec{
			ModuleName:          "ice_oot",
			Parameters:          []string{"debug=1", "msg=a b"},
			DirName:             "/opt",
			Args:                &ModprobeArgs{Load: []string{"--first-time"}, Unload: []string{"--remove-holders"}},
			FirmwarePath:        "/firmware",
			ModulesLoadingOrder: []string{"ice_oot", "irdma_oot"},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	if got := c.InTreeModules(); !reflect.DeepEqual(got, []string{"irdma", "ice"}) {
		t.Fatalf("InTreeModules = %q", got)
	}
}

func TestParseConfig(t *testing.T) {
	const base = "kernelVersion: 6.1.0\ncontainerImage: r/x:1\n"
	cases := []struct {
		name, yaml string
		errHas     string // "" for success
		check      func(*ModuleConfig) bool
	}{
		{"dirName default", base + "modprobe:\n  moduleName: m\n", "", func(c *ModuleConfig) bool { return c.Modprobe.DirName == "/opt" }},
		{"dirName set", base + "modprobe:\n  moduleName: m\n  dirName: /usr/lib/kmm\n", "", func(c *ModuleConfig) bool { return c.Modprobe.DirName == "/usr/lib/kmm" }},
		{"deprecated single in-tree module", base + "inTreeModuleToRemove: ice\nmodprobe:\n  moduleName: m\n", "", func(c *ModuleConfig) bool { return reflect.DeepEqual(c.InTreeModules(), []string{"ice"}) }},
		{"rawArgs", base + "modprobe:\n  rawArgs:\n    load: [-v, m]\n    unload: [-rv, m]\n", "", func(c *ModuleConfig) bool { return c.Modprobe.RawArgs.Load[1] == "m" }},
		{"unknown top-level field", base + "kmodLoaded: true\nmodprobe:\n  moduleName: m\n", `cfg.yaml:3: invalid worker configuration: error unmarshaling JSON: while decoding JSON: json: unknown field "kmodLoaded"`, nil},
		{"unknown nested field", base + "modprobe:\n  moduleName: m\n  firmware: /fw\n", `cfg.yaml:5: invalid worker configuration`, nil},
		// encoding/json, under KMM's decoder too, matches names without
		// regard to case.
		{"field name case", base + "modprobe:\n  moduleName: m\n  dirname: /srv\n", "", func(c *ModuleConfig) bool { return c.Modprobe.DirName == "/srv" }},
		{"duplicate field", base + "modprobe:\n  moduleName: m\n  moduleName: n\n", `cfg.yaml: invalid worker configuration`, nil},
		{"wrong type", base + "modprobe:\n  moduleName: m\n  parameters: debug=1\n", "cannot unmarshal string", nil},
		{"malformed YAML", base + "modprobe: [\n", "yaml: line", nil},
		{"no module", base + "modprobe: {}\n", "moduleName or rawArgs is required", nil},
		{"both", base + "modprobe:\n  moduleName: m\n  rawArgs: {load: [m], unload: [-r, m]}\n", "mutually exclusive", nil},
		{"rawArgs without unload", base + "modprobe:\n  rawArgs: {load: [m]}\n", "load and unload are both required", nil},
		{"relative dirName", base + "modprobe:\n  moduleName: m\n  dirName: opt\n", `dirName "opt" is not an absolute path`, nil},
		{"relative firmwarePath", base + "modprobe:\n  moduleName: m\n  firmwarePath: fw\n", `firmwarePath "fw"`, nil},
		{"order of one", base + "modprobe:\n  moduleName: m\n  modulesLoadingOrder: [m]\n", "at least two", nil},
		{"order not starting with the module", base + "modprobe:\n  moduleName: m\n  modulesLoadingOrder: [a, m]\n", "must start with moduleName", nil},
		{"order with a repeat", base + "modprobe:\n  moduleName: m\n  modulesLoadingOrder: [m, a, a]\n", `names "a" twice`, nil},
		{"both in-tree fields", base + "inTreeModuleToRemove: a\ninTreeModulesToRemove: [b]\nmodprobe:\n  moduleName: m\n", "mutually exclusive", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml), "cfg.yaml")
			if tc.errHas == "" {
				if err != nil || !tc.check(c) {
					t.Fatalf("got %+v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.errHas) || c != nil {
				t.Fatalf("got %v; want ErrConfig with %q", err, tc.errHas)
			}
		})
	}
	if _, err := ReadConfig(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "could not read config file") {
		t.Fatalf("missing file: %v", err)
	}
}
