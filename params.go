package modprobe

import "strings"

// JoinParams joins module parameters given as separate arguments into one
// option string, as modprobe does with the words after the module name: a
// value (the text after the first '=') that contains a space and does not
// start with a quote is wrapped in double quotes, so "b=x y" becomes
// b="x y". Like modprobe, it puts a space only after a non-empty string,
// so leading empty parameters vanish and later ones leave a space.
func JoinParams(params []string) string {
	return joinParams("", params, false)
}

// joinParams returns prefix followed by params joined as JoinParams
// joins them; with quote, each word is also quoted for /bin/sh (see
// shellQuote), so that the string stands for the same words when a shell
// reads it.
func joinParams(prefix string, params []string, quote bool) string {
	if len(params) == 0 {
		return prefix // no allocation: the case of nearly every Plan
	}
	return buildParams(prefix, params, quote, paramsLen(prefix, params, quote))
}

// buildParams is joinParams, whose length n paramsLen returned: the
// string is built once, at its final size.
func buildParams(prefix string, params []string, quote bool, n int) string {
	var b strings.Builder
	b.Grow(n)
	b.WriteString(prefix)
	writeParams(&b, params, quote)
	return b.String()
}

// paramsLen returns the length of joinParams(prefix, params, quote)
// without building it.
func paramsLen(prefix string, params []string, quote bool) int {
	n := counter(len(prefix))
	writeParams(&n, params, quote)
	return int(n)
}

// paramWriter is what writeParams writes to: a strings.Builder, or a
// counter that only adds up the length.
type paramWriter interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
	Len() int
}

// counter is a paramWriter that counts bytes.
type counter int

func (c *counter) WriteString(s string) (int, error) { *c += counter(len(s)); return len(s), nil }
func (c *counter) WriteByte(byte) error              { *c++; return nil }
func (c *counter) Len() int                          { return int(*c) }

// writeParams writes params as JoinParams joins them, each word quoted
// with quote.
func writeParams(w paramWriter, params []string, quote bool) {
	start := w.Len()
	for _, p := range params {
		if w.Len() > start {
			w.WriteByte(' ')
		}
		key, value, ok := strings.Cut(p, "=")
		wrap := ok && !strings.HasPrefix(value, `"`) && !strings.HasPrefix(value, "'") && strings.IndexByte(value, ' ') >= 0
		switch {
		case wrap && quote: // never safe: it holds '"'
			w.WriteByte('\'')
			writeInQuotes(w, key)
			w.WriteString(`="`)
			writeInQuotes(w, value)
			w.WriteString(`"'`)
		case wrap:
			w.WriteString(key)
			w.WriteString(`="`)
			w.WriteString(value)
			w.WriteByte('"')
		case quote && !shellSafe(p):
			w.WriteByte('\'')
			writeInQuotes(w, p)
			w.WriteByte('\'')
		default:
			w.WriteString(p)
		}
	}
}

// shellQuote returns s as one word of /bin/sh's language: s itself when
// it holds only letters, digits and "_-.,:=+/@%" (or is empty, so that it
// vanishes as an unquoted empty word would), and otherwise s in single
// quotes, where a single quote of s ends the quoting, is escaped with a
// backslash and starts it again. The shell then expands nothing in it: no
// command substitution, no parameter, no field splitting, no globbing.
func shellQuote(s string) string {
	if shellSafe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2 + 3*strings.Count(s, "'"))
	b.WriteByte('\'')
	writeInQuotes(&b, s)
	b.WriteByte('\'')
	return b.String()
}

// shellSafe reports whether the shell reads s as the word s unquoted.
func shellSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_-.,:=+/@%", c) >= 0) {
			return false
		}
	}
	return true
}

// writeInQuotes writes s for the inside of single quotes, each single
// quote of s as a quote that ends the quoting, a backslash-escaped quote
// and a quote that starts it again.
func writeInQuotes(w paramWriter, s string) {
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			w.WriteString(s)
			return
		}
		w.WriteString(s[:i])
		w.WriteString(`'\''`)
		s = s[i+1:]
	}
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
