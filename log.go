package modprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/index"
)

// Log attributes. Every record a Loader logs carries its message in kmod's
// wording; these attributes add where it comes from.
const (
	// AttrOrigin names the place in libkmod 30 that logs the same message
	// ("libkmod-config.c:712 kmod_config_parse"). gokmod uses it to print
	// messages byte for byte as Debian's kmod does.
	AttrOrigin = "kmod_origin"
	// AttrFile and AttrLine give the input position, where there is one.
	AttrFile = "file"
	AttrLine = "line"
)

// The libkmod 30 source locations of the messages gokmod reproduces.
var configOrigin = map[config.Code]string{
	config.BadLine:        "libkmod-config.c:712 kmod_config_parse",
	config.Deprecated:     "libkmod-config.c:708 kmod_config_parse",
	config.DirInDir:       "libkmod-config.c:772 conf_files_filter_out",
	config.OpenDir:        "libkmod-config.c:868 conf_files_list",
	config.PathTooLong:    "libkmod-config.c:936 kmod_config_new",
	config.BadCmdlineName: "libkmod-config.c:489 kcmdline_parse_result",
	config.CmdlineRead:    "libkmod-config.c:521 kmod_config_parse_kcmdline",
	config.DuplicateFile:  "libkmod-config.c:809 conf_files_insert_sorted",
}

const (
	originMagic        = "libkmod-index.c:790 index_mm_open"
	originMajor        = "libkmod-index.c:797 index_mm_open"
	originSoftdep      = "libkmod-module.c:1567 lookup_softdep"
	originDifferent    = "libkmod-module.c:428 kmod_module_new_from_path"
	originDeplineJoin  = "libkmod-module.c:184 kmod_module_parse_depline"
	originDepline      = "libkmod-module.c:191 kmod_module_parse_depline"
	originAliasTooLong = "libkmod.c:671 kmod_lookup_alias_from_config"
	originIndexTooLong = "libkmod.c:461 kmod_lookup_alias_from_alias_bin"
	originInitstate    = "libkmod-module.c:1847 kmod_module_get_initstate"
	originInitRead     = "libkmod-module.c:1835 kmod_module_get_initstate"
)

// logger wraps the caller's slog.Logger; the zero value discards.
type logger struct{ l *slog.Logger }

func (g logger) log(level slog.Level, origin, msg string, attrs ...slog.Attr) {
	if g.l == nil {
		return
	}
	ctx := context.Background()
	if !g.l.Enabled(ctx, level) {
		return
	}
	attrs = append(attrs, slog.String(AttrOrigin, origin))
	g.l.LogAttrs(ctx, level, msg, attrs...)
}

func (g logger) errorf(origin, format string, args ...any) {
	g.log(slog.LevelError, origin, fmt.Sprintf(format, args...))
}

// configDiag logs a message from reading the configuration.
func (g logger) configDiag(d config.Diag) {
	level := slog.LevelError
	if d.Debug {
		level = slog.LevelDebug
	}
	var attrs []slog.Attr
	if d.Pos.File != "" {
		attrs = append(attrs, slog.String(AttrFile, d.Pos.File))
	}
	if d.Pos.Line != 0 {
		attrs = append(attrs, slog.Int(AttrLine, d.Pos.Line))
	}
	g.log(level, configOrigin[d.Code], d.Msg, attrs...)
}

// indexDiag logs a problem found while opening the indexes.
func (g logger) indexDiag(err error) {
	var he *index.HeaderError
	if errors.As(err, &he) {
		origin := originMagic
		if he.Magic == index.Magic {
			origin = originMajor
		}
		g.log(slog.LevelError, origin, he.Error())
		return
	}
	var pe *index.ParseError
	if errors.As(err, &pe) {
		g.log(slog.LevelWarn, "", pe.Msg, slog.String(AttrFile, pe.File), slog.Int(AttrLine, pe.Line))
		return
	}
	g.log(slog.LevelWarn, "", err.Error())
}

// strerror returns the C library's text for the errno in err, as kmod
// prints it ("No such file or directory").
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = errno
	}
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
