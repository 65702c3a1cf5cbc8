package modprobe

import (
	"bufio"
	"context"
	"io"
	"strings"

	"github.com/gokmod/modprobe/internal/index"
)

// WriteConfig writes the configuration and the alias indexes as
// modprobe --showconfig does: blacklist, install, remove, alias, options,
// softdep and weakdep lines in configuration order, a separator, then
// every entry of modules.alias and modules.symbols as "alias KEY VALUE".
func (l *Loader) WriteConfig(ctx context.Context, w io.Writer) error {
	defer l.keepAlive()
	if err := l.writeConfig(ctx, w); err != nil {
		return moduleErr(OpConfig, "", l.moduleDir, err)
	}
	return nil
}

// writeConfig is WriteConfig.
func (l *Loader) writeConfig(ctx context.Context, w io.Writer) error {
	lg := l.log // not l: the indexes keep the function, and must not keep l
	idx, err := l.indexes(func(err error) { lg.indexDiag(ctx, err) })
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	c := l.cfg
	line := func(kind, key, value string, hasValue bool) {
		bw.WriteString(kind)
		bw.WriteByte(' ')
		bw.WriteString(key)
		if hasValue {
			bw.WriteByte(' ')
			bw.WriteString(value)
		}
		bw.WriteByte('\n')
	}
	for _, b := range c.Blacklist {
		line("blacklist", b.Module, "", false)
	}
	for _, i := range c.Install {
		line("install", i.Module, i.Command, true)
	}
	for _, r := range c.Remove {
		line("remove", r.Module, r.Command, true)
	}
	for _, a := range c.Aliases {
		line("alias", a.Pattern, a.Module, true)
	}
	for _, o := range c.Options {
		line("options", o.Module, o.Options, true)
	}
	for i := range c.Softdeps {
		line("softdep", c.Softdeps[i].Module, c.Softdeps[i].String(), true)
	}
	for _, wd := range c.Weakdeps {
		line("weakdep", wd.Module, strings.Join(wd.Deps, " "), true)
	}
	bw.WriteString("\n# End of configuration files. Dumping indexes now:\n\n")
	if err := idx.Get(index.Alias).Dump(bw, "alias "); err != nil {
		return err
	}
	if err := idx.Get(index.Symbols).Dump(bw, "alias "); err != nil {
		return err
	}
	return bw.Flush()
}
