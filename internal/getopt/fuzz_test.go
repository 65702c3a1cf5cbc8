package getopt

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that the parser never panics, always ends, and only
// reorders its arguments. args holds the arguments separated by newlines;
// table picks the long options; posix sets POSIXLY_CORRECT.
func FuzzParse(f *testing.F) {
	f.Add(modprobeShortopts, "ip_vs\n-v", uint8(0), false)
	f.Add("-"+modprobeShortopts, "a\n--sh\n--\n-v", uint8(0), false)
	f.Add("+:W;b:c::", "-W\nbeta\n-c\n--gam=1", uint8(1), true)
	f.Fuzz(func(t *testing.T, shortopts, args string, table uint8, posix bool) {
		var long []Option
		switch table % 3 {
		case 0:
			long = modprobeLong
		case 1:
			long = extraLong
		}
		argv := strings.Split(args, "\n")
		env := envWith()
		if posix {
			env = envWith("POSIXLY_CORRECT=1")
		}
		p := New("prog", argv, shortopts, long, io.Discard).WithEnv(env)

		// Every call that does not end the scan uses up at least one byte
		// of an argument or one argument.
		limit := len(args) + len(argv) + 1
		calls := 0
		for {
			if _, _, done := p.Next(); done {
				break
			}
			calls++
			if calls > limit {
				t.Fatalf("no end after %d calls", calls)
			}
		}

		want := make([]string, len(argv))
		for i, a := range argv {
			want[i] = cString(a)
		}
		got := slices.Clone(p.argv[1:])
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("argv is no permutation of the arguments: %q", p.argv[1:])
		}
		ops := p.Operands()
		if len(ops) > len(argv) {
			t.Fatalf("%d operands from %d arguments", len(ops), len(argv))
		}
		if !slices.Equal(ops, p.argv[len(p.argv)-len(ops):]) {
			t.Fatalf("operands %q are not the tail of argv %q", ops, p.argv)
		}
	})
}
