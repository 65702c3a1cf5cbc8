package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/gokmod/modprobe/internal/fileio"
	"github.com/gokmod/modprobe/internal/kmodlog"
	"github.com/gokmod/modprobe/internal/modname"
)

// cmdlineSize is the most libkmod reads of /proc/cmdline (KCMD_LINE_SIZE
// less the terminating NUL).
const cmdlineSize = 4095

func (c *Config) readCmdline(path string, diag func(Diag)) {
	data, err := fileio.ReadFile(path, cmdlineSize)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Op == "read" {
			diag(Diag{Code: CmdlineRead, Msg: fmt.Sprintf("could not read from '/proc/cmdline': %s", kmodlog.Strerror(err))})
		}
		return // libkmod ignores a command line it cannot open
	}
	c.ParseCmdline(data, path, diag)
}

// ParseCmdline adds the module options and modprobe.blacklist= entries of
// a kernel command line to c, with the state machine of libkmod's
// kmod_config_parse_kcmdline: "mod.param[=value]" tokens become options,
// a token quoted from its first byte ("mod.p=a b", as GRUB writes it) is
// re-quoted as mod.p="a b", and tokens such as root=/dev/sda or a.b.c=1
// are ignored. file is used as the position of the results.
func (c *Config) ParseCmdline(data []byte, file string, diag func(Diag)) {
	if diag == nil {
		diag = func(Diag) {}
	}
	const (
		stIgnore = iota
		stModname
		stParam
		stValue
		stComplete
	)
	// buf is a NUL-terminated copy that the parser edits, as libkmod does.
	buf := make([]byte, len(data)+1)
	copy(buf, data)
	state := stModname
	quoted := false
	quoteStart := -1
	modname, param, value := 0, -1, -1
	for p, iter := 0, true; iter; p++ {
		switch buf[p] {
		case '"':
			quoted = !quoted
			if quoted && state == stModname && p == modname {
				quoteStart = p
				modname = p + 1
			} else if state != stValue {
				state = stIgnore
			}
		case 0, ' ', '\n', '\t', '\v', '\f', '\r':
			if buf[p] == 0 {
				iter = false
			}
			switch {
			case quoted && state == stValue:
			case quoted:
				state = stIgnore
			case state == stValue || state == stParam:
				buf[p] = 0
				state = stComplete
			default:
				modname = p + 1
				state = stModname
				quoteStart = -1
			}
		case '.':
			if state == stModname {
				buf[p] = 0
				param = p + 1
				state = stParam
			} else if state == stParam {
				state = stIgnore
			}
		case '=':
			if state == stParam {
				value = p + 1
				state = stValue
			} else if state == stModname {
				state = stIgnore
			}
		}
		if state == stComplete {
			if quoteStart >= 0 && quoteStart < modname && value >= modname {
				copy(buf[quoteStart:], buf[modname:value])
				value--
				modname--
				param--
				buf[value] = '"'
			}
			c.cmdlineResult(cstr(buf, modname), cstr(buf, param), valueOf(buf, value), file, diag)
			modname = p + 1
			state = stModname
			quoteStart = -1
		}
	}
}

// cstr returns the NUL-terminated string at buf[i:].
func cstr(buf []byte, i int) string {
	if i < 0 || i >= len(buf) {
		return ""
	}
	j := i
	for j < len(buf) && buf[j] != 0 {
		j++
	}
	return string(buf[i:j])
}

func valueOf(buf []byte, i int) *string {
	if i < 0 {
		return nil
	}
	s := cstr(buf, i)
	return &s
}

func (c *Config) cmdlineResult(mod, param string, value *string, file string, diag func(Diag)) {
	pos := Pos{File: file}
	if mod == "modprobe" && strings.HasPrefix(param, "blacklist=") {
		v := ""
		if value != nil {
			v = *value
		}
		for _, name := range strings.Split(v, ",") {
			c.Blacklist = append(c.Blacklist, Blacklist{Module: name, Pos: pos})
		}
		return
	}
	n, err := modname.Underscores(mod)
	if err != nil {
		diag(Diag{Code: BadCmdlineName, Pos: pos,
			Msg: fmt.Sprintf("Ignoring bad option on kernel command line while parsing module name: '%s'", n)})
		return
	}
	c.addOptions(n, param, pos)
}
