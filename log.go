package modprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gokmod/modprobe/internal/config"
	"github.com/gokmod/modprobe/internal/index"
)

// Log attributes. A record a Loader logs carries its message in kmod's
// wording where kmod's is meant for a reader, and in the library's own
// where kmod's is a debugging dump; AttrFile and AttrLine give the input
// position, where there is one; AttrPath and AttrError the module file a
// record is about and the error it met ("depline-module-failed"); and
// AttrEvent names what the record reports, with a short stable word a
// program can match on ("insert-failed", "config-bad-line",
// "index-bad-magic", "command-failed", ...), for every record that has a
// counterpart among libkmod's messages.
const (
	AttrFile  = "file"
	AttrLine  = "line"
	AttrEvent = "event"
	AttrPath  = "path"
	AttrError = "error"
)

// configEvent is the event of a configuration diagnostic.
func configEvent(c config.Code) string {
	switch c {
	case config.BadLine:
		return "config-bad-line"
	case config.Deprecated:
		return "config-deprecated"
	case config.DirInDir:
		return "config-dir-in-dir"
	case config.OpenDir:
		return "config-open-dir-failed"
	case config.PathTooLong:
		return "config-path-too-long"
	case config.BadCmdlineName:
		return "cmdline-bad-name"
	case config.CmdlineRead:
		return "cmdline-unreadable"
	case config.DuplicateFile:
		return "config-duplicate-file"
	case config.StatEntry:
		return "config-stat-failed"
	}
	return "" // a diagnostic of gokmod's own
}

// The events of the other records a Loader logs (see AttrEvent).
const (
	eventMagic        = "index-bad-magic"
	eventMajor        = "index-bad-version"
	eventSoftdep      = "softdep-lookup-failed"
	eventDifferent    = "module-path-differs"
	eventDeplineJoin  = "depline-path-too-long"
	eventDepline      = "depline-module-failed"
	eventAliasTooLong = "config-alias-too-long"
	eventIndexTooLong = "index-alias-too-long"
	eventInitstate    = "initstate-bad"
	eventInitRead     = "initstate-unreadable"
	eventNoPath       = "module-no-file"
	eventInsertFailed = "insert-failed"
	eventStripModver  = "force-modversion"
	eventStripVermag  = "force-vermagic"
	eventCommandRun   = "command-not-run"
	eventCommandExit  = "command-failed"
	eventRemove       = "remove-failed"
	eventCompression  = "compression-unknown"
	eventLoaded       = "loaded-unreadable"
	eventDenied       = "module-denied"
)

// logger wraps the caller's slog.Logger; the zero value discards.
type logger struct {
	l *slog.Logger
}

func newLogger(l *slog.Logger) logger { return logger{l: l} }

func (g logger) log(ctx context.Context, level slog.Level, event, msg string, attrs ...slog.Attr) {
	if g.l == nil || !g.l.Enabled(ctx, level) {
		return
	}
	if event != "" {
		attrs = append(attrs, slog.String(AttrEvent, event))
	}
	g.l.LogAttrs(ctx, level, msg, attrs...)
}

func (g logger) errorf(ctx context.Context, event, format string, args ...any) {
	g.log(ctx, slog.LevelError, event, fmt.Sprintf(format, args...))
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
	g.log(context.Background(), level, configEvent(d.Code), d.Msg, attrs...)
}

// indexDiag logs a problem found while opening the indexes. Header errors
// keep libkmod's wording, with the file as an attribute; problems in text
// fallbacks, which libkmod never reads, name their file and line.
func (g logger) indexDiag(ctx context.Context, err error) {
	var pe *index.PathError
	var he *index.HeaderError
	if errors.As(err, &pe) && errors.As(err, &he) {
		event := eventMagic
		if he.Magic == index.Magic {
			event = eventMajor
		}
		g.log(ctx, slog.LevelError, event, he.Error(), slog.String(AttrFile, pe.Path))
		return
	}
	var te *index.ParseError
	if errors.As(err, &te) {
		g.log(ctx, slog.LevelWarn, "", te.Error(), slog.String(AttrFile, te.File), slog.Int(AttrLine, te.Line))
		return
	}
	g.log(ctx, slog.LevelWarn, "", err.Error())
}
