package kernel

import (
	"strconv"
	"strings"
)

// maxKmsgRead bounds how many bytes of kernel log one ReadNew call takes.
const maxKmsgRead = 1 << 20

// parseKmsg appends the messages of the /dev/kmsg records in buf to msgs:
// each record is "PRI,SEQ,USEC,FLAGS[,...];TEXT" followed by continuation
// lines that start with a space (dictionary entries), which are dropped.
// Escapes such as \x0a in TEXT are decoded.
func parseKmsg(buf []byte, msgs []string) []string {
	for _, line := range strings.Split(string(buf), "\n") {
		if line == "" || line[0] == ' ' {
			continue
		}
		i := strings.IndexByte(line, ';')
		if i < 0 {
			continue
		}
		msgs = append(msgs, unescapeKmsg(line[i+1:]))
	}
	return msgs
}

// unescapeKmsg decodes the \xNN escapes the kernel writes for
// unprintable bytes.
func unescapeKmsg(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
