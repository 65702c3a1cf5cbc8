package modprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/index"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// Log attributes. Every record a Loader logs carries its message in kmod's
// wording; these attributes give the input position, where there is one.
const (
	AttrFile = "file"
	AttrLine = "line"
)

// The places in libkmod 30 that log the messages gokmod reproduces; the
// gokmod command prints them as Debian's kmod (built with debugging
// information in its messages) does.
func configOrigin(c config.Code) string {
	switch c {
	case config.BadLine:
		return "libkmod-config.c:712 kmod_config_parse"
	case config.Deprecated:
		return "libkmod-config.c:708 kmod_config_parse"
	case config.DirInDir:
		return "libkmod-config.c:772 conf_files_filter_out"
	case config.OpenDir:
		return "libkmod-config.c:868 conf_files_list"
	case config.PathTooLong:
		return "libkmod-config.c:936 kmod_config_new"
	case config.BadCmdlineName:
		return "libkmod-config.c:489 kcmdline_parse_result"
	case config.CmdlineRead:
		return "libkmod-config.c:521 kmod_config_parse_kcmdline"
	case config.DuplicateFile:
		return "libkmod-config.c:809 conf_files_insert_sorted"
	case config.StatEntry:
		return "libkmod-config.c:0 conf_files_filter_out" // kmod 34 only, which prints no line
	}
	return "" // gokmod's own message: libkmod has no such one
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
	originNoPath       = "libkmod-module.c:895 kmod_module_insert_module"
	originInsertFailed = "libkmod-module.c:949 kmod_module_insert_module"
	originStripModver  = "libkmod-module.c:930 kmod_module_insert_module"
	originStripVermag  = "libkmod-module.c:936 kmod_module_insert_module"
	originCommandRun   = "libkmod-module.c:1041 command_do"
	originCommandExit  = "libkmod-module.c:1047 command_do"
	originRemove       = "libkmod-module.c:856 kmod_module_remove_module"
	originCompression  = "libkmod.c:0 kmod_new"
	originLoaded       = "libkmod-module.c:1725 kmod_module_new_from_loaded"
)

// logger wraps the caller's slog.Logger; the zero value discards.
type logger struct {
	l       *slog.Logger
	origins bool // the handler wants kmodlog.AttrOrigin
}

func newLogger(l *slog.Logger) logger {
	g := logger{l: l}
	if l != nil {
		_, g.origins = l.Handler().(kmodlog.OriginHandler)
	}
	return g
}

func (g logger) log(ctx context.Context, level slog.Level, origin, msg string, attrs ...slog.Attr) {
	if g.l == nil || !g.l.Enabled(ctx, level) {
		return
	}
	if g.origins && origin != "" {
		attrs = append(attrs, slog.String(kmodlog.AttrOrigin, origin))
	}
	g.l.LogAttrs(ctx, level, msg, attrs...)
}

func (g logger) errorf(ctx context.Context, origin, format string, args ...any) {
	g.log(ctx, slog.LevelError, origin, fmt.Sprintf(format, args...))
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
	g.log(context.Background(), level, configOrigin(d.Code), d.Msg, attrs...)
}

// indexDiag logs a problem found while opening the indexes. Header errors
// keep libkmod's wording, with the file as an attribute; problems in text
// fallbacks, which libkmod never reads, name their file and line.
func (g logger) indexDiag(ctx context.Context, err error) {
	var pe *index.PathError
	var he *index.HeaderError
	if errors.As(err, &pe) && errors.As(err, &he) {
		origin := originMagic
		if he.Magic == index.Magic {
			origin = originMajor
		}
		g.log(ctx, slog.LevelError, origin, he.Error(), slog.String(AttrFile, pe.Path))
		return
	}
	var te *index.ParseError
	if errors.As(err, &te) {
		g.log(ctx, slog.LevelWarn, "", te.Error(), slog.String(AttrFile, te.File), slog.Int(AttrLine, te.Line))
		return
	}
	g.log(ctx, slog.LevelWarn, "", err.Error())
}
