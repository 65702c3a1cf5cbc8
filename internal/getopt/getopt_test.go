package getopt

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// event names one result of Next: the option character if printable,
// otherwise "#" and the code; then "=" and the argument if one is present.
func event(opt int, arg string, present bool) string {
	s := fmt.Sprintf("#%d", opt)
	if opt > ' ' && opt < 0x7f {
		s = string(rune(opt))
	}
	if present {
		s += "=" + arg
	}
	return s
}

// collect runs p to the end and returns its events and operands.
func collect(p *Parser) (events, operands []string) {
	for {
		opt, arg, done := p.Next()
		if done {
			break
		}
		events = append(events, event(opt, arg, p.ArgPresent()))
	}
	return events, p.Operands()
}

func TestTable(t *testing.T) {
	type tc struct {
		name      string
		shortopts string // modprobe's when empty
		long      []Option
		env       []string
		args      []string
		events    []string
		operands  []string
		stderr    string
	}
	const amb = "modprobe: option '--sh' is ambiguous; possibilities: '--show-depends' '--showconfig' '--show-config' '--show-modversions' '--show-exports' '--show'\n"
	tests := []tc{
		{name: "empty", args: nil},
		{name: "operand only", args: []string{"ip_vs"}, operands: []string{"ip_vs"}},
		{name: "permute", args: []string{"ip_vs", "-v", "x", "-n"}, events: []string{"v", "n"}, operands: []string{"ip_vs", "x"}},
		{name: "cluster", args: []string{"-vn", "m"}, events: []string{"v", "n"}, operands: []string{"m"}},
		{name: "attached arg", args: []string{"-Cfoo", "m"}, events: []string{"C=foo"}, operands: []string{"m"}},
		{name: "separate arg", args: []string{"-C", "foo", "m"}, events: []string{"C=foo"}, operands: []string{"m"}},
		{name: "arg option mid cluster", args: []string{"-vCn", "m"}, events: []string{"v", "C=n"}, operands: []string{"m"}},
		{name: "arg option ends cluster", args: []string{"-vC", "-n", "m"}, events: []string{"v", "C=-n"}, operands: []string{"m"}},
		{name: "arg looks like --", args: []string{"-C", "--", "m"}, events: []string{"C=--"}, operands: []string{"m"}},
		{name: "missing short arg", args: []string{"m", "-C"}, events: []string{"?"}, operands: []string{"m"},
			stderr: "modprobe: option requires an argument -- 'C'\n"},
		{name: "invalid short", args: []string{"-vxn"}, events: []string{"v", "?", "n"},
			stderr: "modprobe: invalid option -- 'x'\n"},
		{name: "colon is never an option", args: []string{"-:"}, events: []string{"?"},
			stderr: "modprobe: invalid option -- ':'\n"},
		{name: "high byte", args: []string{"-é"}, events: []string{"?", "?"},
			stderr: "modprobe: invalid option -- '\xc3'\nmodprobe: invalid option -- '\xa9'\n"},
		{name: "double dash", args: []string{"a", "-v", "--", "-n", "b"}, events: []string{"v"}, operands: []string{"a", "-n", "b"}},
		{name: "lone dash", args: []string{"-", "-v"}, events: []string{"v"}, operands: []string{"-"}},
		{name: "empty arg", args: []string{"", "-v"}, events: []string{"v"}, operands: []string{""}},
		{name: "long exact", args: []string{"--show", "m"}, events: []string{"n"}, operands: []string{"m"}},
		{name: "long abbrev", args: []string{"--show-dep", "m"}, events: []string{"D"}, operands: []string{"m"}},
		{name: "same option twice", args: []string{"--ig", "--showc", "--show-c", "--dr"}, events: []string{"i", "c", "c", "n"}},
		{name: "same val not ambiguous", args: []string{"--remove-"}, events: []string{"#5"}},
		{name: "long required =", args: []string{"--config=/x", "--conf", "/y", "--wait="}, events: []string{"C=/x", "C=/y", "w="}},
		{name: "long required missing", args: []string{"m", "--dirname"}, events: []string{"?"}, operands: []string{"m"},
			stderr: "modprobe: option '--dirname' requires an argument\n"},
		{name: "long abbrev missing shows full name", args: []string{"--dirn"}, events: []string{"?"},
			stderr: "modprobe: option '--dirname' requires an argument\n"},
		{name: "no argument allowed", args: []string{"--verb=1"}, events: []string{"?"},
			stderr: "modprobe: option '--verbose' doesn't allow an argument\n"},
		{name: "unrecognized", args: []string{"--foo", "--foo=bar"}, events: []string{"?", "?"},
			stderr: "modprobe: unrecognized option '--foo'\nmodprobe: unrecognized option '--foo=bar'\n"},
		{name: "ambiguous", args: []string{"--sh"}, events: []string{"?"}, stderr: amb},
		{name: "ambiguous with value", args: []string{"--force-=1"}, events: []string{"?"},
			stderr: "modprobe: option '--force-=1' is ambiguous; possibilities: '--force-modversion' '--force-vermagic'\n"},
		{name: "ambiguous re", args: []string{"--re"}, events: []string{"?"},
			stderr: "modprobe: option '--re' is ambiguous; possibilities: '--remove' '--remove-dependencies' '--remove-holders' '--resolve-alias'\n"},
		{name: "require order", shortopts: "+" + modprobeShortopts, args: []string{"-v", "m", "-n"}, events: []string{"v"}, operands: []string{"m", "-n"}},
		{name: "POSIXLY_CORRECT", env: []string{"POSIXLY_CORRECT="}, args: []string{"-v", "m", "-n"}, events: []string{"v"}, operands: []string{"m", "-n"}},
		{name: "other env ignored", env: []string{"POSIXLY=1"}, args: []string{"-v", "m", "-n"}, events: []string{"v", "n"}, operands: []string{"m"}},
		{name: "return in order", shortopts: "-" + modprobeShortopts, args: []string{"a", "-v", "b", "--", "-n"}, events: []string{"#1=a", "v", "#1=b"}, operands: []string{"-n"}},
		{name: "colon", shortopts: ":" + modprobeShortopts, args: []string{"-x", "--foo", "--sh", "-C"}, events: []string{"?", "?", "?", ":"}},
		{name: "colon long missing", shortopts: "+:" + modprobeShortopts, args: []string{"--config"}, events: []string{":"}},
		{name: "optional short", shortopts: "c::v", long: extraLong, args: []string{"-cfoo", "-c", "bar", "-vc"}, events: []string{"c=foo", "c", "v", "c"}, operands: []string{"bar"}},
		{name: "optional long", shortopts: "v", long: extraLong, args: []string{"--gamma=1", "--gamma", "x", "--gamma="}, events: []string{"c=1", "c", "c="}, operands: []string{"x"}},
		{name: "exact beats prefix", shortopts: "", long: extraLong, args: []string{"--gam", "--gamm"}, events: []string{"g", "c"}},
		{name: "ambiguity against first only", long: extraLong, args: []string{"--p", "--q"}, events: []string{"?", "?"},
			stderr: "modprobe: option '--p' is ambiguous; possibilities: '--pa' '--pb'\nmodprobe: option '--q' is ambiguous; possibilities: '--qa' '--qc' '--qd'\n"},
		{name: "odd vals", long: extraLong, args: []string{"--big", "--neg", "--zero"}, events: []string{"#300", "#-5", "#0"}},
		{name: "empty name matches all", long: extraLong[:2], args: []string{"--=x"}, events: []string{"?"},
			stderr: "modprobe: option '--=x' is ambiguous; possibilities: '--alpha' '--beta'\n"},
		{name: "empty name single option", long: extraLong[1:2], args: []string{"--=x"}, events: []string{"b=x"}},
		{name: "W;", shortopts: "W;v", long: extraLong, args: []string{"-W", "beta=1", "-Walp", "-vW", "gamma", "-Wfoo"}, events: []string{"b=1", "a", "v", "c", "?"},
			stderr: "modprobe: unrecognized option '-W foo'\n"},
		{name: "W; missing", shortopts: "W;", args: []string{"-W"}, events: []string{"?"},
			stderr: "modprobe: option requires an argument -- 'W'\n"},
		{name: "signed char", shortopts: "\xc3\xa9", args: []string{"-é"}, events: []string{"#-61", "#-87"}},
		{name: "0xff is -1 but not done", shortopts: "\xff", args: []string{"-\xff", "m"}, events: []string{"#-1"}, operands: []string{"m"}},
		{name: "NUL ends an argument", args: []string{"-v\x00n", "m\x00x"}, events: []string{"v"}, operands: []string{"m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			short := tt.shortopts
			if short == "" && tt.long == nil {
				short = modprobeShortopts
			}
			long := tt.long
			if long == nil {
				long = modprobeLong
			}
			var stderr bytes.Buffer
			p := New("modprobe", tt.args, short, long, &stderr).WithEnv(envWith(tt.env...))
			events, operands := collect(p)
			if !reflect.DeepEqual(events, tt.events) {
				t.Errorf("events = %q, want %q", events, tt.events)
			}
			if len(operands) != 0 || len(tt.operands) != 0 {
				if !reflect.DeepEqual(operands, tt.operands) {
					t.Errorf("operands = %q, want %q", operands, tt.operands)
				}
			}
			if got := stderr.String(); got != tt.stderr {
				t.Errorf("stderr = %q, want %q", got, tt.stderr)
			}
		})
	}
}

func TestDoneIsSticky(t *testing.T) {
	p := New("p", []string{"a", "-v"}, "v", nil, nil)
	if opt, _, done := p.Next(); done || opt != 'v' {
		t.Fatalf("first Next = %d, %v", opt, done)
	}
	for i := 0; i < 3; i++ {
		if opt, arg, done := p.Next(); !done || opt != -1 || arg != "" {
			t.Fatalf("Next after end = %d, %q, %v", opt, arg, done)
		}
	}
	if got := p.Operands(); !reflect.DeepEqual(got, []string{"a"}) {
		t.Fatalf("Operands = %q", got)
	}
}

func TestArgsNotModified(t *testing.T) {
	args := []string{"a", "-v", "b", "-v"}
	p := New("p", args, "v", nil, nil)
	collect(p)
	if strings.Join(args, " ") != "a -v b -v" {
		t.Fatalf("args changed to %q", args)
	}
}

func TestOptopt(t *testing.T) {
	var stderr bytes.Buffer
	p := New("modprobe", []string{"-v", "-x", "-v", "--verbose=1", "--nope", "-C"}, modprobeShortopts, modprobeLong, &stderr)
	want := []int{0, 'x', 'x', 'v', 0, 'C'}
	if got := p.Optopt(); got != '?' {
		t.Fatalf("initial Optopt = %d", got)
	}
	for i, w := range want {
		p.Next()
		if got := p.Optopt(); got != w {
			t.Errorf("Optopt after call %d = %d, want %d", i, got, w)
		}
	}
}

// TestOptions checks that ranging over Options yields what Next returns
// up to done, and that leaving the loop early leaves the rest to Next.
func TestOptions(t *testing.T) {
	args := []string{"-a", "x", "--beta=1", "-c", "2", "-?", "y"}
	long := []Option{{Name: "beta", HasArg: RequiredArgument, Val: 'b'}}
	var want, got []string
	p := New("p", args, "ab:c:", long, nil)
	for {
		c, arg, done := p.Next()
		if done {
			break
		}
		want = append(want, fmt.Sprintf("%d=%s", c, arg))
	}
	q := New("p", args, "ab:c:", long, nil)
	for c, arg := range q.Options() {
		got = append(got, fmt.Sprintf("%d=%s", c, arg))
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(q.Operands(), p.Operands()) {
		t.Fatalf("Options gave %q, operands %q; Next gave %q, %q", got, q.Operands(), want, p.Operands())
	}
	r := New("p", args, "ab:c:", long, nil)
	for c := range r.Options() {
		if c != 'a' {
			t.Fatalf("first option %d", c)
		}
		break
	}
	if c, arg, done := r.Next(); done || c != 'b' || arg != "1" {
		t.Fatalf("Next after leaving the loop = %d, %q, %v", c, arg, done)
	}
}
