package main

// splitModprobeOptions splits the MODPROBE_OPTIONS environment variable the
// way kmod's prepend_options_from_env does. Words are separated by single
// spaces (two spaces make an empty word); a word quoted from its first
// byte ends at the closing quote, and quotes inside a word are removed.
func splitModprobeOptions(env string) []string {
	s := []byte(env)
	var words []string
	start := 0
	quote := -1
	i := 0
	for ; i < len(s); i++ {
		if quote < 0 {
			switch s[i] {
			case ' ':
				words = append(words, string(s[start:i]))
				start = i + 1
			case '"', '\'':
				quote = i
			}
			continue
		}
		if s[i] != s[quote] {
			continue
		}
		if quote == start {
			words = append(words, string(s[start+1:i]))
			start = i + 1
		} else {
			// Drop both quote characters and go on after the closing one.
			s = append(s[:quote], append(s[quote+1:i], s[i+1:]...)...)
			i -= 2
		}
		quote = -1
	}
	if start < i {
		words = append(words, string(s[start:]))
	}
	return words
}
