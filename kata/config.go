package kata

import (
	"fmt"

	"github.com/BurntSushi/toml"

	"github.com/gokmod/modprobe"
)

// DefaultConfigPaths returns where Kata looks for configuration.toml when
// no file is named, in order: the administrator's file, then the
// packaged defaults. (Kata also honours KATA_CONF_FILE; gokmod kata does
// too.)
func DefaultConfigPaths() []string {
	return []string{
		"/etc/kata-containers/configuration.toml",
		"/usr/share/defaults/kata-containers/configuration.toml",
	}
}

// configFile is the part of configuration.toml that matters here; every
// other key is ignored.
type configFile struct {
	Agent struct {
		Kata struct {
			KernelModules []string `toml:"kernel_modules"`
		} `toml:"kata"`
	} `toml:"agent"`
}

// ParseConfig reads the kernel_modules array of [agent.kata] from the
// content of a Kata configuration.toml; name (the file's path) is used in
// errors. Every other key is ignored. Malformed TOML, or a kernel_modules
// (or agent, or agent.kata) of the wrong type, gives a *ParseError naming
// the file and the line; a bad element, one naming the element. A key
// nested more than MaxNesting levels deep is refused, before the TOML
// decoder sees it, with a *ParseError naming the file and the line and
// wrapping ErrTooDeep.
func ParseConfig(data []byte, name string) ([]modprobe.Request, error) {
	if len(data) > MaxConfigSize {
		return nil, &ParseError{Source: name, Index: -1, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(data), MaxConfigSize)}
	}
	scan := nesting{data: data}
	if line := scan.tooDeep(); line > 0 {
		return nil, &ParseError{Source: name, Index: -1, Line: line,
			Err: fmt.Errorf("%w: more than %d levels (table header, inline tables and arrays, dotted key)", ErrTooDeep, MaxNesting)}
	}
	var c configFile
	if _, err := toml.Decode(string(data), &c); err != nil {
		return nil, &ParseError{Source: name, Index: -1, Err: err}
	}
	if n := len(c.Agent.Kata.KernelModules); n > MaxElements {
		return nil, &ParseError{Source: name + ": [agent.kata] kernel_modules", Index: -1, Err: fmt.Errorf("%w: %d elements, more than %d", ErrTooLarge, n, MaxElements)}
	}
	return parseList(name+": [agent.kata] kernel_modules", c.Agent.Kata.KernelModules)
}
