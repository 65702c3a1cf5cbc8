package main

import (
	"fmt"
	"log/slog"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/internal/kmodlog"
)

// kmodOrigins maps the library's log events (modprobe.AttrEvent) to the
// places in libkmod 30 that log the same messages, which Debian's kmod,
// built with debugging information in its messages, prints.
var kmodOrigins = map[string]string{
	"config-bad-line":        "libkmod-config.c:712 kmod_config_parse",
	"config-deprecated":      "libkmod-config.c:708 kmod_config_parse",
	"config-dir-in-dir":      "libkmod-config.c:772 conf_files_filter_out",
	"config-open-dir-failed": "libkmod-config.c:868 conf_files_list",
	"config-path-too-long":   "libkmod-config.c:936 kmod_config_new",
	"cmdline-bad-name":       "libkmod-config.c:489 kcmdline_parse_result",
	"cmdline-unreadable":     "libkmod-config.c:521 kmod_config_parse_kcmdline",
	"config-duplicate-file":  "libkmod-config.c:809 conf_files_insert_sorted",
	"config-stat-failed":     "libkmod-config.c:0 conf_files_filter_out",
	"index-bad-magic":        "libkmod-index.c:790 index_mm_open",
	"index-bad-version":      "libkmod-index.c:797 index_mm_open",
	"softdep-lookup-failed":  "libkmod-module.c:1567 lookup_softdep",
	"module-path-differs":    "libkmod-module.c:428 kmod_module_new_from_path",
	"depline-path-too-long":  "libkmod-module.c:184 kmod_module_parse_depline",
	"depline-module-failed":  "libkmod-module.c:191 kmod_module_parse_depline",
	"config-alias-too-long":  "libkmod.c:671 kmod_lookup_alias_from_config",
	"index-alias-too-long":   "libkmod.c:461 kmod_lookup_alias_from_alias_bin",
	"initstate-bad":          "libkmod-module.c:1847 kmod_module_get_initstate",
	"initstate-unreadable":   "libkmod-module.c:1835 kmod_module_get_initstate",
	"module-no-file":         "libkmod-module.c:895 kmod_module_insert_module",
	"insert-failed":          "libkmod-module.c:949 kmod_module_insert_module",
	"force-modversion":       "libkmod-module.c:930 kmod_module_insert_module",
	"force-vermagic":         "libkmod-module.c:936 kmod_module_insert_module",
	"command-not-run":        "libkmod-module.c:1041 command_do",
	"command-failed":         "libkmod-module.c:1047 command_do",
	"remove-failed":          "libkmod-module.c:856 kmod_module_remove_module",
	"compression-unknown":    "libkmod.c:0 kmod_new",
	"loaded-unreadable":      "libkmod-module.c:1725 kmod_module_new_from_loaded",
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
