package getopt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The differential test compiles a small C program that runs the real
// glibc getopt_long over its arguments and compares everything it observes
// with what the Go parser produces for the same arguments.

// diffSpec is one option specification compiled into the C program.
type diffSpec struct {
	shortopts string
	long      []Option
}

var diffSpecs = []diffSpec{
	{modprobeShortopts, modprobeLong},
	{"+" + modprobeShortopts, modprobeLong},
	{"-" + modprobeShortopts, modprobeLong},
	{":" + modprobeShortopts, modprobeLong},
	{"ab:c::W;v\xc3\xa9", extraLong},
	{"-:W;b:c::", extraLong},
	{"+v", nil},
}

// cLiteral quotes s as a C string literal, escaping every byte that is not
// a letter, digit, '-' or '_' with a three-digit octal escape.
func cLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03o", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cProgram returns the C source of the reference program. Its usage is
// "prog SPEC ARGV0 ARGS...": it calls getopt_long with spec number SPEC on
// the argument vector ARGV0 ARGS... and prints the same transcript as the
// Go function transcript. stdout is unbuffered, so when stdout and stderr
// are the same pipe, glibc's messages land where they happen.
func cProgram() string {
	var b strings.Builder
	b.WriteString(`#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

struct spec {
	const char *shortopts;
	const struct option *longopts;
};

`)
	for i, s := range diffSpecs {
		fmt.Fprintf(&b, "static const struct option long%d[] = {\n", i)
		for _, o := range s.long {
			fmt.Fprintf(&b, "\t{%s, %d, NULL, %d},\n", cLiteral(o.Name), int(o.HasArg), o.Val)
		}
		b.WriteString("\t{NULL, 0, NULL, 0}\n};\n\n")
	}
	b.WriteString("static const struct spec specs[] = {\n")
	for i, s := range diffSpecs {
		fmt.Fprintf(&b, "\t{%s, long%d},\n", cLiteral(s.shortopts), i)
	}
	b.WriteString(`};

int main(int argc, char **argv)
{
	const struct spec *s;
	char **av;
	int ac, c, i;

	if (argc < 3)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	s = &specs[atoi(argv[1])];
	av = argv + 2;
	ac = argc - 2;
	while ((c = getopt_long(ac, av, s->shortopts, s->longopts, NULL)) != -1) {
		if (optarg)
			printf("opt %d optopt %d arg =%s\n", c, optopt, optarg);
		else
			printf("opt %d optopt %d arg -\n", c, optopt);
	}
	printf("operands");
	for (i = optind; i < ac; i++)
		printf(" [%s]", av[i]);
	printf("\n");
	return 0;
}
`)
	return b.String()
}

// buildReference compiles the C program with gcc. A missing gcc fails the
// test: the differential test is the main evidence the emulation is right.
func buildReference(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is required for the glibc differential test: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "ref.c")
	bin := filepath.Join(dir, "ref")
	if err := os.WriteFile(src, []byte(cProgram()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gcc, "-std=c99", "-O1", "-Wall", "-Werror", "-D_GNU_SOURCE", "-o", bin, src).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc failed: %v\n%s", err, out)
	}
	return bin
}

// diffCase is one run to compare.
type diffCase struct {
	spec  int
	posix string // POSIXLY_CORRECT's value; unset when "-"
	args  []string
}

// compare runs c through glibc and the Go parser and reports differences.
func compare(t *testing.T, bin string, c diffCase) {
	t.Helper()
	var want bytes.Buffer
	cmd := exec.Command(bin, append([]string{strconv.Itoa(c.spec), "modprobe"}, c.args...)...)
	cmd.Env = []string{"LC_ALL=C"}
	if c.posix != "-" {
		cmd.Env = append(cmd.Env, "POSIXLY_CORRECT="+c.posix)
	}
	cmd.Stdout = &want
	cmd.Stderr = &want
	if err := cmd.Run(); err != nil {
		t.Fatalf("reference program failed on %q: %v\n%s", c.args, err, want.String())
	}

	var got bytes.Buffer
	env := envWith()
	if c.posix != "-" {
		env = envWith("POSIXLY_CORRECT=" + c.posix)
	}
	s := diffSpecs[c.spec]
	transcript(New("modprobe", c.args, s.shortopts, s.long, &got).WithEnv(env), &got)

	if got.String() != want.String() {
		t.Errorf("spec %d (%q), POSIXLY_CORRECT %q, args %q:\nglibc:\n%s\nGo:\n%s",
			c.spec, s.shortopts, c.posix, c.args, want.String(), got.String())
	}
}

// fixedCases are hand-picked argument vectors for modprobe's table.
var fixedCases = [][]string{
	{},
	{"ip_vs"},
	{"ip_vs", "-v"},
	{"-v", "ip_vs", "-n", "param=1", "-q"},
	{"-vn", "ip_vs"},
	{"-vCn", "ip_vs"},
	{"-vC", "file", "ip_vs"},
	{"-C", "file", "-d", "/root", "-S", "6.1.0", "ip_vs"},
	{"-Cfile", "-d/root", "-S6.1.0"},
	{"ip_vs", "-C"},
	{"-vd"},
	{"-w", "10", "-r", "ip_vs"},
	{"-rw"},
	{"-x"},
	{"-vxn"},
	{"-:"},
	{"-;"},
	{"-?"},
	{"-é"},
	{"-W", "foo"},
	{"--"},
	{"--", "-v"},
	{"a", "--", "-v", "b"},
	{"a", "-v", "--", "-n", "b"},
	{"-v", "--", "--"},
	{"-"},
	{"-", "-v", "-"},
	{"", "-v", ""},
	{"---"},
	{"---v"},
	{"--all", "--remove", "--remove-dependencies", "--remove-holders"},
	{"--remove-", "--remove-h", "--remove-d"},
	{"--re"},
	{"--rem"},
	{"--res"},
	{"--wait", "5", "--wait=6", "--wai=7", "--w", "8", "--wait="},
	{"--wait"},
	{"--w"},
	{"--first-time", "--first", "--fi"},
	{"--f"},
	{"--fo"},
	{"--force"},
	{"--force-"},
	{"--force-m", "--force-v"},
	{"--ignore-install", "--ignore-remove", "--ig", "--ignore", "--ignore-"},
	{"--i"},
	{"--use-blacklist", "--u"},
	{"--show-depends", "--show-dep", "--show-d"},
	{"--showconfig", "--showc", "--show-config", "--show-c", "--show-con"},
	{"--show-modversions", "--show-m", "--dump-modversions", "--du", "--d"},
	{"--show-exports", "--show-e"},
	{"--dry-run", "--dr", "--show"},
	{"--sh"},
	{"--s"},
	{"--show-"},
	{"--sho"},
	{"--show=1"},
	{"--sh=1"},
	{"--show-config=yes"},
	{"--config", "/etc/modprobe.d", "--config=/x", "--conf", "y", "--c", "z"},
	{"--co"},
	{"--config"},
	{"--config="},
	{"--dirname", "/lib/modules"},
	{"--di", "/lib"},
	{"--dirname"},
	{"--set-version", "6.1.0", "--se=6", "--set"},
	{"--syslog", "--sy", "--quiet", "--q", "--verbose", "--verb"},
	{"--v"},
	{"--ver"},
	{"--vers"},
	{"--version", "--help", "--h", "--he=1"},
	{"--foo"},
	{"--foo=bar"},
	{"--foo", "bar"},
	{"--=x"},
	{"--="},
	{"--verbose=", "--verbose=1"},
	{"--help", "ip_vs", "--verbose", "x", "--config", "c", "y"},
	{"ip_vs", "--", "--verbose"},
	{"-vq", "--show-depends", "ip_vs", "param=--x", "-"},
	{"-Ss", "-S", "-s"},
	{"-S", "--", "m"},
	{"--set-version", "--", "m"},
	{"--config", "-v", "m"},
	{"-a", "m1", "m2", "-b", "m3", "--", "m4", "-f"},
	{"m1", "-a", "m2", "-b", "--", "m3"},
	{"m1", "m2", "-a", "--"},
	{"-a", "--", "m1"},
	{"m1", "--foo", "m2", "-x", "m3", "--sh", "m4"},
	{"-vvvvvv"},
	{"-hV"},
	{"-Rib"},
	{"-fDc"},
	{"-D", "ip_vs", "--show-depends", "--remove", "-r", "--force-vermagic", "--force-modversion"},
	{"--help=", "--version=x"},
	{"-v-n"},
	{"-\xff"},
	{"-vü"},
	{"--ü"},
	{"--verbose\xff"},
	{"param=-v", "-v"},
	{"a b", "-C", "c d"},
}

// extraCases are hand-picked argument vectors for the other specs, which
// exercise optional arguments, "W;", '-' ordering and a ':' prefix.
var extraCases = [][]string{
	{"-a", "-bX", "-b", "Y", "-cZ", "-c", "W"},
	{"-ab"},
	{"-c"},
	{"-vc", "x"},
	{"-é", "-vé"},
	{"-W", "beta=1", "-Walpha", "-vWgam", "-W", "gamma"},
	{"-W"},
	{"-vW"},
	{"-W", "foo"},
	{"-Wfoo=1"},
	{"-W", "alpha=1"},
	{"-W", "beta"},
	{"-Wp"},
	{"-W", "--"},
	{"-W", "-"},
	{"-W", ""},
	{"--gamma", "x", "--gamma=", "--gamma=1", "--ga=2", "--gam", "--gamm"},
	{"--g"},
	{"--delta", "--delta=1", "--delta-t", "--delta-tw=2", "--delta-th=3", "--de=4", "--delta-"},
	{"--big", "--neg", "--zero", "--b", "--n", "--z"},
	{"--beta"},
	{"--beta", "x", "--be=y", "--beta="},
	{"--p", "--pa", "--pc", "--q", "--qc", "--qc=1", "--qd"},
	{"--=x"},
	{"--"},
	{"a", "-a", "b", "--", "-b", "c"},
	{"a", "b", "-a", "c"},
	{"-", "x", "-v"},
	{":", "-:", "-;"},
}

func TestGlibcDifferential(t *testing.T) {
	bin := buildReference(t)
	var cases []diffCase
	for _, args := range fixedCases {
		for _, spec := range []int{0, 1, 2, 3} {
			cases = append(cases, diffCase{spec, "-", args})
		}
		cases = append(cases, diffCase{0, "", args})
	}
	for _, args := range extraCases {
		for _, spec := range []int{4, 5, 6} {
			cases = append(cases, diffCase{spec, "-", args})
		}
		cases = append(cases, diffCase{4, "1", args})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 600; i++ {
		c := diffCase{spec: r.IntN(len(diffSpecs)), posix: "-"}
		if r.IntN(8) == 0 {
			c.posix = "1"
		}
		c.args = randomArgs(r, diffSpecs[c.spec])
		cases = append(cases, c)
	}
	failures := 0
	for _, c := range cases {
		compare(t, bin, c)
		if t.Failed() {
			failures++
			if failures > 10 {
				t.Fatal("too many differences")
			}
		}
	}
	t.Logf("%d argument vectors compared", len(cases))
}

// randomArgs returns a random argument vector built from pieces that are
// likely to matter to spec: its short options, prefixes of its long
// options, with and without "=value", operands, "--", "-", and junk.
func randomArgs(r *rand.Rand, spec diffSpec) []string {
	shortChars := strings.Trim(spec.shortopts, "+-:") + "xz:;-W?é"
	operands := []string{"ip_vs", "m", "", "-", "--", "a=b", "ü", "x y", "-é"}
	values := []string{"", "1", "/etc", "-v", "--", "=", "a=b"}
	n := r.IntN(9)
	args := make([]string, 0, n)
	for len(args) < n {
		switch r.IntN(6) {
		case 0, 1: // a cluster of short options
			var b strings.Builder
			b.WriteByte('-')
			for k := 1 + r.IntN(4); k > 0; k-- {
				b.WriteByte(shortChars[r.IntN(len(shortChars))])
			}
			args = append(args, b.String())
		case 2, 3: // a long option, possibly abbreviated, possibly with =value
			name := "foo"
			if len(spec.long) > 0 && r.IntN(8) != 0 {
				name = spec.long[r.IntN(len(spec.long))].Name
				name = name[:r.IntN(len(name)+1)]
			}
			a := "--" + name
			if r.IntN(3) == 0 {
				a += "=" + values[r.IntN(len(values))]
			}
			args = append(args, a)
		case 4: // an operand
			args = append(args, operands[r.IntN(len(operands))])
		case 5: // a value that may end up as an argument
			args = append(args, values[r.IntN(len(values))])
		}
	}
	return args
}
