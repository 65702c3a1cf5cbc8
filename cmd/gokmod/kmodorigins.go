package main

import (
	"fmt"
	"log/slog"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// kmodOrigin returns the place in libkmod 30 that logs the message of
// the library's log event (modprobe.AttrEvent), which Debian's kmod,
// built with debugging information in its messages, prints; "" for an
// event libkmod has no message for. A switch, not a map: a package-level
// map is built at every start of every tool.
func kmodOrigin(event string) string {
	switch event {
	case "config-bad-line":
		return "libkmod-config.c:712 kmod_config_parse"
	case "config-deprecated":
		return "libkmod-config.c:708 kmod_config_parse"
	case "config-dir-in-dir":
		return "libkmod-config.c:772 conf_files_filter_out"
	case "config-open-dir-failed":
		return "libkmod-config.c:868 conf_files_list"
	case "config-path-too-long":
		return "libkmod-config.c:936 kmod_config_new"
	case "cmdline-bad-name":
		return "libkmod-config.c:489 kcmdline_parse_result"
	case "cmdline-unreadable":
		return "libkmod-config.c:521 kmod_config_parse_kcmdline"
	case "config-duplicate-file":
		return "libkmod-config.c:809 conf_files_insert_sorted"
	case "config-stat-failed":
		return "libkmod-config.c:0 conf_files_filter_out"
	case "index-bad-magic":
		return "libkmod-index.c:790 index_mm_open"
	case "index-bad-version":
		return "libkmod-index.c:797 index_mm_open"
	case "softdep-lookup-failed":
		return "libkmod-module.c:1567 lookup_softdep"
	case "module-path-differs":
		return "libkmod-module.c:428 kmod_module_new_from_path"
	case "depline-path-too-long":
		return "libkmod-module.c:184 kmod_module_parse_depline"
	case "depline-module-failed":
		return "libkmod-module.c:191 kmod_module_parse_depline"
	case "config-alias-too-long":
		return "libkmod.c:671 kmod_lookup_alias_from_config"
	case "index-alias-too-long":
		return "libkmod.c:461 kmod_lookup_alias_from_alias_bin"
	case "initstate-bad":
		return "libkmod-module.c:1847 kmod_module_get_initstate"
	case "initstate-unreadable":
		return "libkmod-module.c:1835 kmod_module_get_initstate"
	case "module-no-file":
		return "libkmod-module.c:895 kmod_module_insert_module"
	case "insert-failed":
		return "libkmod-module.c:949 kmod_module_insert_module"
	case "force-modversion":
		return "libkmod-module.c:930 kmod_module_insert_module"
	case "force-vermagic":
		return "libkmod-module.c:936 kmod_module_insert_module"
	case "command-not-run":
		return "libkmod-module.c:1041 command_do"
	case "command-failed":
		return "libkmod-module.c:1047 command_do"
	case "remove-failed":
		return "libkmod-module.c:856 kmod_module_remove_module"
	case "compression-unknown":
		return "libkmod.c:0 kmod_new"
	case "loaded-unreadable":
		return "libkmod-module.c:1725 kmod_module_new_from_loaded"
	}
	return ""
}

// kmodText returns libkmod's text for record r, of the given event, where
// the library words it otherwise: libkmod-module.c:191 dumps its context
// pointer (ctx stands in for it), the dependency's path and the error.
func kmodText(ctx any, event string, r slog.Record) string {
	if event != "depline-module-failed" {
		return r.Message
	}
	var path string
	var err error
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case modprobe.AttrPath:
			path = a.Value.String()
		case modprobe.AttrError:
			err, _ = a.Value.Any().(error)
		}
		return true
	})
	msg := ""
	if err != nil {
		msg = kmodlog.Strerror(err)
	}
	return fmt.Sprintf("ctx=%p path=%s error=%s", ctx, path, msg)
}
