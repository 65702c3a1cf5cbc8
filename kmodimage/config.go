package kmodimage

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
	"sigs.k8s.io/yaml"
)

// ModprobeArgs are extra modprobe arguments for loading and unloading.
type ModprobeArgs struct {
	Load   []string `json:"load,omitempty"`
	Unload []string `json:"unload,omitempty"`
}

// ModprobeSpec is KMM's modprobe section of a Module, with its field
// names.
type ModprobeSpec struct {
	// ModuleName is the module to load; empty only with RawArgs.
	ModuleName string `json:"moduleName,omitempty"`
	// Parameters are the module's "key=value" parameters.
	Parameters []string `json:"parameters,omitempty"`
	// DirName is the image's module root (modprobe -d); empty means
	// DefaultDirName.
	DirName string `json:"dirName,omitempty"`
	// Args are modprobe options put before the module's name; they may
	// hold options only.
	Args *ModprobeArgs `json:"args,omitempty"`
	// RawArgs, when set, are modprobe's whole argument lists, and every
	// other field is ignored.
	RawArgs *ModprobeArgs `json:"rawArgs,omitempty"`
	// FirmwarePath is the image directory whose files are copied to the
	// host's firmware directory.
	FirmwarePath string `json:"firmwarePath,omitempty"`
	// ModulesLoadingOrder, [m0 m1 ... mn] with m0 the module, loads mn
	// first and m0 last, as softdeps "m0 pre: m1", "m1 pre: m2", ...
	ModulesLoadingOrder []string `json:"modulesLoadingOrder,omitempty"`
	// ModprobedDir is the image directory holding modprobe.d files for
	// the image's modules (KMM's modprobedDir, added in 2026): its
	// regular files, directly in it, configure the load and the unload
	// as files of /etc/modprobe.d would. It must exist in the image, hold
	// at least one regular file and no directory.
	ModprobedDir string `json:"modprobedDir,omitempty"`
}

// TLSOptions is KMM's registryTLS: how the worker reaches the registry
// of the Module's image.
type TLSOptions struct {
	// Insecure allows plain HTTP (and unverified TLS), as insecurePull
	// does.
	Insecure bool `json:"insecure,omitempty"`
	// InsecureSkipTLSVerify accepts any certificate the registry
	// presents, over HTTPS.
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
}

// ModuleConfig is the KMM worker's configuration file
// (/etc/kmm-worker/config.yaml), with KMM's field names. KMM's operator
// writes insecurePull; registryTLS, the Module's own field, is accepted
// too (see PullOptions). Neither carries a CA bundle: KMM has no field
// for one, and gokmod's worker takes it from its --registry-ca option
// (PullOptions.RootCAs).
type ModuleConfig struct {
	KernelVersion         string       `json:"kernelVersion"`
	ContainerImage        string       `json:"containerImage"`
	ImagePullPolicy       string       `json:"imagePullPolicy,omitempty"`
	InsecurePull          bool         `json:"insecurePull,omitempty"`
	RegistryTLS           *TLSOptions  `json:"registryTLS,omitempty"`
	InTreeModulesToRemove []string     `json:"inTreeModulesToRemove,omitempty"`
	InTreeModuleToRemove  string       `json:"inTreeModuleToRemove,omitempty"`
	Modprobe              ModprobeSpec `json:"modprobe"`
}

// DefaultDirName is the image's module root when dirName is not set.
const DefaultDirName = "/opt"

// dirName returns the Module's dirName: DefaultDirName when it is empty
// (a configuration built in code; ParseConfig fills it in). Validate,
// the extraction and the worker all take it so.
func (m *ModprobeSpec) dirName() string { return cmp.Or(m.DirName, DefaultDirName) }

// ErrConfig: the worker configuration is malformed or breaks KMM's rules.
var ErrConfig = errors.New("invalid worker configuration")

// MaxConfigSize is the largest worker configuration ReadConfig and
// ParseConfig accept: more than any the Kubernetes API server can hold
// (its objects are at most 1.5 MiB), so that a configuration that is not
// KMM's cannot make the worker read or parse without end.
const MaxConfigSize = 2 << 20

// ReadConfig reads and checks the worker configuration file at path (see
// ParseConfig). The file is read no further than MaxConfigSize bytes: a
// larger file, or an endless device, is an error wrapping ErrConfig; a
// FIFO or a socket is refused at once (fs.ErrInvalid), without waiting
// for a writer.
func ReadConfig(path string) (*ModuleConfig, error) {
	data, err := fileio.ReadInput(path, MaxConfigSize)
	if errors.Is(err, fileio.ErrTooLarge) {
		return nil, fmt.Errorf("could not read config file %s: %w: more than %d bytes", path, ErrConfig, MaxConfigSize)
	}
	if err != nil {
		return nil, fmt.Errorf("could not read config file %s: %w", path, err)
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes a worker configuration strictly, as KMM's worker
// does (an unknown or repeated field is an error), fills in dirName's
// default and checks it against KMM's admission rules (see Validate).
// Errors wrap ErrConfig and name the file, and the line where one is
// known; data over MaxConfigSize is refused before it is decoded.
func ParseConfig(data []byte, name string) (*ModuleConfig, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than %d", name, ErrConfig, len(data), MaxConfigSize)
	}
	var c ModuleConfig
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%s%s: %w: %v", name, unknownFieldLine(data, err), ErrConfig, err)
	}
	if c.Modprobe.DirName == "" {
		c.Modprobe.DirName = DefaultDirName
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

// unknownField finds the name in the decoder's unknown-field error.
var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// unknownFieldLine returns ":LINE" of the key an unknown-field error is
// about, or "".
func unknownFieldLine(data []byte, err error) string {
	m := unknownField.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	key := m[1]
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimLeft(line, " \t")
		t = strings.TrimLeft(strings.TrimPrefix(t, "- "), " ")
		t = strings.Trim(strings.SplitN(t, ":", 2)[0], `"'`)
		if t == key && strings.Contains(line, ":") {
			return fmt.Sprintf(":%d", i+1)
		}
	}
	return ""
}

// Validate checks the configuration against KMM's admission rules, which
// a configuration written by hand has not been through: moduleName or
// rawArgs (not both; rawArgs then with load and unload); a
// modulesLoadingOrder of at least two different modules starting with
// moduleName; an absolute dirName; at most one in-tree field; an absolute
// firmwarePath; an absolute modprobedDir. Then the paths must stay inside the worker's shared
// directory, with the rules Extract applies to an image: dirName and
// firmwarePath absolute and clean (no "..", no "//", no trailing "/",
// no NUL), firmwarePath and modprobedDir neither "/" nor overlapping
// the kernel directory dirName/lib/modules/kernelVersion or each other, and kernelVersion one path
// element; so a configuration that kmm load accepts, kmm load --pull
// accepts too, and the other way round. An empty dirName stands for
// DefaultDirName. Errors wrap ErrConfig.
func (c *ModuleConfig) Validate() error {
	m := &c.Modprobe
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case m.ModuleName != "" && m.RawArgs != nil:
		return bad("modprobe: moduleName and rawArgs are mutually exclusive")
	case m.ModuleName == "" && m.RawArgs == nil:
		return bad("modprobe: moduleName or rawArgs is required")
	case m.ModuleName == "" && (len(m.RawArgs.Load) == 0 || len(m.RawArgs.Unload) == 0):
		return bad("modprobe.rawArgs: load and unload are both required")
	case !path.IsAbs(m.dirName()):
		return bad("modprobe.dirName %q is not an absolute path", m.DirName)
	case m.FirmwarePath != "" && !path.IsAbs(m.FirmwarePath):
		return bad("modprobe.firmwarePath %q is not an absolute path", m.FirmwarePath)
	case m.ModprobedDir != "" && !path.IsAbs(m.ModprobedDir):
		return bad("modprobe.modprobedDir %q is not an absolute path", m.ModprobedDir)
	case len(c.InTreeModulesToRemove) > 0 && c.InTreeModuleToRemove != "":
		return bad("inTreeModulesToRemove and inTreeModuleToRemove are mutually exclusive")
	}
	if o := m.ModulesLoadingOrder; len(o) > 0 {
		if len(o) < 2 {
			return bad("modprobe.modulesLoadingOrder needs at least two modules")
		}
		if m.ModuleName == "" || o[0] != m.ModuleName {
			return bad("modprobe.modulesLoadingOrder must start with moduleName %q", m.ModuleName)
		}
		seen := map[string]bool{}
		for _, n := range o {
			if seen[n] {
				return bad("modprobe.modulesLoadingOrder names %q twice", n)
			}
			seen[n] = true
		}
	}
	if _, err := checkPlan(c.extractOptions(), configNames()); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// configNames returns the names of the worker configuration's fields, for
// errors.
func configNames() fieldNames {
	return fieldNames{"modprobe.dirName", "kernelVersion", "modprobe.firmwarePath", "modprobe.modprobedDir"}
}

// extractOptions are the options that extract the configuration's image
// parts: its dirName, kernelVersion, firmwarePath and modprobedDir.
func (c *ModuleConfig) extractOptions() ExtractOptions {
	return ExtractOptions{
		DirName:       c.Modprobe.dirName(),
		KernelVersion: c.KernelVersion,
		FirmwarePath:  c.Modprobe.FirmwarePath,
		ModprobedDir:  c.Modprobe.ModprobedDir,
	}
}

// InTreeModules returns the in-tree modules to remove before loading:
// inTreeModulesToRemove, or else the deprecated inTreeModuleToRemove.
func (c *ModuleConfig) InTreeModules() []string {
	if c.InTreeModulesToRemove == nil && c.InTreeModuleToRemove != "" {
		return []string{c.InTreeModuleToRemove}
	}
	return c.InTreeModulesToRemove
}
