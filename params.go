package modprobe

import "strings"

// JoinParams joins module parameters given as separate arguments into one
// option string, as modprobe does with the words after the module name: a
// value (the text after the first '=') that contains a space and does not
// start with a quote is wrapped in double quotes, so "b=x y" becomes
// b="x y". Like modprobe, it puts a space only after a non-empty string,
// so leading empty parameters vanish and later ones leave a space.
func JoinParams(params []string) string {
	return joinParams(params, false)
}

// joinParams is JoinParams; with quote, each word is also quoted for
// /bin/sh (see shellQuote), so that the string stands for the same words
// when a shell reads it.
func joinParams(params []string, quote bool) string {
	var b strings.Builder
	for _, p := range params {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		key, value, ok := strings.Cut(p, "=")
		if ok && !strings.HasPrefix(value, `"`) && !strings.HasPrefix(value, "'") && strings.IndexByte(value, ' ') >= 0 {
			p = key + `="` + value + `"`
		}
		if quote {
			p = shellQuote(p)
		}
		b.WriteString(p)
	}
	return b.String()
}

// shellQuote returns s as one word of /bin/sh's language: s itself when
// it holds only letters, digits and "_-.,:=+/@%" (or is empty, so that it
// vanishes as an unquoted empty word would), and otherwise s in single
// quotes, where a single quote of s ends the quoting, is escaped with a
// backslash and starts it again. The shell then expands
// nothing in it: no command substitution, no parameter, no field
// splitting, no globbing.
func shellQuote(s string) string {
	safe := true
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_-.,:=+/@%", c) >= 0
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// configOptions returns the options modprobe.d and the kernel command
// line give m: every options line for its name or for the alias it was
// reached through, in configuration order, joined by spaces.
func (p *pool) configOptions(m *module) string {
	if !m.optionsInit {
		m.optionsInit = true
		byName := p.l.conf.options[m.name]
		var byAlias []int
		if m.hasAlias && m.alias != m.name {
			byAlias = p.l.conf.options[m.alias]
		}
		if len(byName)+len(byAlias) == 0 {
			return ""
		}
		var b strings.Builder
		add := func(i int) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(p.l.cfg.Options[i].Options)
		}
		// Both lists are in configuration order; merge them.
		for len(byName) > 0 || len(byAlias) > 0 {
			if len(byAlias) == 0 || len(byName) > 0 && byName[0] < byAlias[0] {
				add(byName[0])
				byName = byName[1:]
			} else {
				add(byAlias[0])
				byAlias = byAlias[1:]
			}
		}
		m.options = b.String()
	}
	return m.options
}

// optionString is libkmod's module_options_concat: configuration options,
// a space, then the caller's options. The space is there whenever the
// configuration gave options, even with no caller options, so
// configuration-only strings end in a space.
func optionString(cfg, extra string) string {
	if cfg == "" {
		return extra
	}
	return cfg + " " + extra
}
