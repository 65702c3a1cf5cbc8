package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gokmod/modprobe"
)

// syslog priorities, as kmod uses them.
const (
	logEmerg   = 0
	logCrit    = 2
	logErr     = 3
	logWarning = 4
	logNotice  = 5
	logInfo    = 6
	logDebug   = 7
)

// exitNow is panicked to end the tool at once, as kmod's LOG_CRIT messages
// call exit(); the tool's entry point recovers it.
type exitNow int

// toolLog reproduces kmod's tools/log.c and the libkmod logging it sets up,
// byte for byte with Debian's kmod 30 (built with debugging information in
// its messages) or Debian 13's kmod 34.2 (built without: libkmod's
// messages carry no place in its source, and its debug messages are not
// there at all).
type toolLog struct {
	prog     string
	w        io.Writer
	priority int // log.c's log_priority: what the tool itself prints
	// libkmod's context priority; before setup is true it is LOG_ERR and
	// messages use libkmod's own format.
	ctxPriority int
	setup       bool
	// sys, when set (modprobe -s), receives what the tool and libkmod
	// print once logging is set up, instead of stderr; nil syslog means
	// -s was given but no syslog daemon listens: messages are dropped.
	useSyslog bool
	sys       *syslogConn
	// kmod30 prints libkmod's messages as kmod 30 does; otherwise as
	// kmod 34.2 does (see setCompat).
	kmod30 bool
}

// setCompat makes the log print libkmod's messages as the kmod release c
// follows does.
func (t *toolLog) setCompat(c modprobe.Compat) {
	t.kmod30 = c == modprobe.CompatKmod30
}

// openSyslog is log_open(true): from now on the tool's messages go to
// syslog with the tool's name as tag.
func (t *toolLog) openSyslog() {
	t.useSyslog = true
	t.sys = dialSyslog(t.prog)
}

// close releases the syslog connection.
func (t *toolLog) close() {
	if t.sys != nil {
		t.sys.close()
	}
}

// emit writes one message at priority prio to syslog or stderr.
func (t *toolLog) emit(prio int, stderrText, syslogText string) {
	if !t.useSyslog {
		io.WriteString(t.w, stderrText)
		return
	}
	if t.sys != nil {
		t.sys.log(prio, strings.TrimSuffix(syslogText, "\n"))
	}
}

func newToolLog(prog string, w io.Writer) *toolLog {
	return &toolLog{prog: prog, w: w, priority: logWarning, ctxPriority: logErr}
}

// setupKmodLog is log_setup_kmod_log: from now on both the tool and
// libkmod print messages up to priority, in the tool's format.
func (t *toolLog) setupKmodLog(priority int) {
	t.priority = priority
	t.ctxPriority = priority
	t.setup = true
}

func prioName(p int) string {
	switch p {
	case logCrit:
		return "FATAL"
	case logErr:
		return "ERROR"
	case logWarning:
		return "WARNING"
	case logNotice:
		return "NOTICE"
	case logInfo:
		return "INFO"
	case logDebug:
		return "DEBUG"
	}
	return fmt.Sprintf("LOG-%03d", p)
}

// printf is log_printf: print "PROG: PRIO: msg" if prio passes, and exit
// for LOG_CRIT and worse.
func (t *toolLog) printf(prio int, format string, args ...any) {
	if prio > t.priority {
		return
	}
	msg := fmt.Sprintf(format, args...)
	t.emit(prio, fmt.Sprintf("%s: %s: %s", t.prog, prioName(prio), msg), prioName(prio)+": "+msg)
	if prio <= logCrit {
		panic(exitNow(1))
	}
}

// slogHandler adapts a Loader's log records to kmod's format.
type slogHandler struct{ t *toolLog }

func slogPrio(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return logErr
	case l >= slog.LevelWarn:
		return logWarning
	case l >= slog.LevelInfo:
		return logInfo
	}
	return logDebug
}

func (h slogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return slogPrio(l) <= h.t.ctxPriority
}

func (h slogHandler) Handle(_ context.Context, r slog.Record) error {
	t := h.t
	prio := slogPrio(r.Level)
	if prio > t.ctxPriority {
		return nil
	}
	var event string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == modprobe.AttrEvent {
			event = a.Value.String()
		}
		return true
	})
	origin := kmodOrigin(event) // the libkmod 30 place that logs the same message
	r.Message = kmodText(t, event, r)
	file, fn, _ := strings.Cut(origin, " ")
	switch {
	case !t.kmod30 && prio == logDebug && origin != "":
		// kmod 34.2 as Debian 13 builds it has no debug messages.
	case !t.setup && origin != "":
		// libkmod's own logger, before the tool installs its own: stderr.
		name := prioName(prio)
		if prio == logCrit {
			name = "CRITICAL"
		}
		if t.kmod30 {
			fmt.Fprintf(t.w, "libkmod: %s ../libkmod/%s %s: %s\n", name, file, fn, r.Message)
		} else {
			fmt.Fprintf(t.w, "libkmod: %s: %s: %s\n", name, fn, r.Message)
		}
	case origin == "" || !t.kmod30:
		t.emit(prio, fmt.Sprintf("%s: %s: %s\n", t.prog, prioName(prio), r.Message), prioName(prio)+": "+r.Message)
	default:
		text := fmt.Sprintf("../libkmod/%s %s() %s", file, fn, r.Message)
		t.emit(prio, fmt.Sprintf("%s: %s: %s\n", t.prog, prioName(prio), text), prioName(prio)+": "+text)
	}
	return nil
}

func (h slogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h slogHandler) WithGroup(string) slog.Handler      { return h }
