package fnmatch

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/fnmatch/internal/cfnmatch"
)

// requireReference skips the calling test when glibc's fnmatch cannot be
// called, except under CI (CI=true), where a missing reference is a failure:
// the differential tests are the proof that Match is glibc-exact.
func requireReference(tb testing.TB) {
	tb.Helper()
	if cfnmatch.Available() {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("glibc reference unavailable under CI: %s", cfnmatch.Reason())
	}
	tb.Skipf("glibc reference unavailable: %s", cfnmatch.Reason())
}

// differ compares Match with glibc for one pair and reports a mismatch.
// It returns false on a mismatch.
func differ(tb testing.TB, pattern, name string) bool {
	tb.Helper()
	got := Match(pattern, name)
	want := cfnmatch.Match(pattern, name)
	if got != want {
		tb.Errorf("Match(%q, %q) = %v, glibc fnmatch says %v", pattern, name, got, want)
		return false
	}
	return true
}

// diffAlphabet is the byte alphabet that stresses fnmatch's rules.
const diffAlphabet = `ab-][!^*?\/.:09z`

// patternTokens are the pieces random patterns are assembled from: every
// single byte of diffAlphabet plus the multi-byte constructs of bracket
// expressions, well- and ill-formed.
var patternTokens = []string{
	"a", "b", "-", "]", "[", "!", "^", "*", "?", `\`, "/", ".", ":", "0", "9", "z",
	"A", "\xe9", "\x80", "\xff", " ",
	"[:alpha:]", "[:digit:]", "[:alnum:]", "[:upper:]", "[:lower:]", "[:space:]",
	"[:xdigit:]", "[:punct:]", "[:print:]", "[:graph:]", "[:cntrl:]", "[:blank:]",
	"[:foo:]", "[:z:]", "[::]", "[:", ":]", "[=", "=]", "[=a=]", "[=]=]", "[==]",
	"[.", ".]", "[.a.]", "[.-.]", "[.].]", "[..]", "[.ab.]", "[...]",
	"[a-z]", "[!a]", "[^a]", "[]]", "[!]]", "[]-a]", "[z-a]", "a-", "-]",
}

// nameBytes are the bytes random names are built from.
const nameBytes = "ab-][!^*?\\/.:09zAZ \t\xe9\x80\xff=_"

func randomPattern(r *rand.Rand) string {
	var b strings.Builder
	n := r.IntN(12)
	for range n {
		if r.IntN(3) == 0 {
			b.WriteString(patternTokens[r.IntN(len(patternTokens))])
		} else {
			b.WriteByte(diffAlphabet[r.IntN(len(diffAlphabet))])
		}
	}
	return b.String()
}

func randomName(r *rand.Rand, pattern string) string {
	switch r.IntN(4) {
	case 0:
		// The pattern itself, or part of it: brackets that fall back to
		// literals, escapes and collating symbols need such names.
		if len(pattern) == 0 {
			return ""
		}
		i := r.IntN(len(pattern) + 1)
		j := i + r.IntN(len(pattern)-i+1)
		return pattern[i:j]
	case 1:
		// The pattern with its metacharacters dropped or replaced.
		var b strings.Builder
		for k := 0; k < len(pattern); k++ {
			c := pattern[k]
			switch {
			case c == '*' || c == '?' || c == '\\':
				if r.IntN(2) == 0 {
					b.WriteByte(nameBytes[r.IntN(len(nameBytes))])
				}
			case r.IntN(4) == 0:
				b.WriteByte(nameBytes[r.IntN(len(nameBytes))])
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	default:
		var b strings.Builder
		for range r.IntN(10) {
			b.WriteByte(nameBytes[r.IntN(len(nameBytes))])
		}
		return b.String()
	}
}

// TestDifferentialExhaustive compares every pattern of up to three bytes over
// diffAlphabet (FNMATCH_DIFF_MAXLEN changes the length) with every one-byte
// name and every name of up to two bytes over diffAlphabet.
func TestDifferentialExhaustive(t *testing.T) {
	requireReference(t)
	var names []string
	names = append(names, "")
	for c := 1; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}))
	}
	for i := 0; i < len(diffAlphabet); i++ {
		for j := 0; j < len(diffAlphabet); j++ {
			names = append(names, string([]byte{diffAlphabet[i], diffAlphabet[j]}))
		}
	}
	patterns := []string{""}
	prev := []string{""}
	maxLen := 3
	if testing.Short() {
		maxLen = 2
	}
	if s := os.Getenv("FNMATCH_DIFF_MAXLEN"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		maxLen = n
	}
	for l := 1; l <= maxLen; l++ {
		var next []string
		for _, p := range prev {
			for i := 0; i < len(diffAlphabet); i++ {
				next = append(next, p+string(diffAlphabet[i]))
			}
		}
		patterns = append(patterns, next...)
		prev = next
	}
	fails := 0
	for _, p := range patterns {
		for _, n := range names {
			if !differ(t, p, n) {
				fails++
				if fails > 50 {
					t.Fatal("too many mismatches")
				}
			}
		}
	}
	t.Logf("glibc %s: %d patterns x %d names", cfnmatch.Version(), len(patterns), len(names))
}

// TestDifferentialRandom compares a large deterministic pseudo-random set of
// (pattern, name) pairs. FNMATCH_DIFF_COUNT and FNMATCH_DIFF_SEED change the
// number of pairs and the seed for longer local runs.
func TestDifferentialRandom(t *testing.T) {
	requireReference(t)
	count := 2_000_000
	if testing.Short() {
		count = 100_000
	}
	if s := os.Getenv("FNMATCH_DIFF_COUNT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		count = n
	}
	seed := uint64(1)
	if s := os.Getenv("FNMATCH_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	r := rand.New(rand.NewPCG(seed, 2))
	fails := 0
	for range count {
		p := randomPattern(r)
		n := randomName(r, p)
		if !differ(t, p, n) {
			fails++
			if fails > 50 {
				t.Fatal("too many mismatches")
			}
		}
	}
}

// classNames are the C locale's classes plus names glibc rejects.
var classNames = []string{
	"alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print",
	"punct", "space", "upper", "xdigit",
	"", "foo", "ALPHA", "alph", "alphaa", "z", "zero", "word", "ascii", "combining",
}

// rangeEnds are the range end points tried against every byte.
const rangeEnds = "\x01\t !-09AZ[\\]^`az{~\x7f\x80\xe9\xff"

// TestDifferentialBrackets sweeps every name byte against classes,
// equivalence classes, collating symbols, escapes and ranges, where a random
// walk would rarely hit the byte that matters.
func TestDifferentialBrackets(t *testing.T) {
	requireReference(t)
	var patterns []string
	for _, c := range classNames {
		cls := "[:" + c + ":]"
		patterns = append(patterns,
			"["+cls+"]", "[!"+cls+"]", "[^"+cls+"]", "[a"+cls+"]", "["+cls+"a]",
			"[!a"+cls+"]", "["+cls+"-z]", "[a-"+cls+"]", "x*["+cls+"]")
	}
	for c := 1; c < 256; c++ {
		b := string([]byte{byte(c)})
		patterns = append(patterns,
			b, `\`+b, "["+b+"]", "[!"+b+"]", `[\`+b+"]", "[="+b+"=]",
			"[[="+b+"=]]", "[[."+b+".]]", "[![."+b+".]]", "[[."+b+".]-]", "[a[="+b+"=]]")
	}
	for i := 0; i < len(rangeEnds); i++ {
		for j := 0; j < len(rangeEnds); j++ {
			lo, hi := string(rangeEnds[i]), string(rangeEnds[j])
			patterns = append(patterns,
				"["+lo+"-"+hi+"]", "[!"+lo+"-"+hi+"]", `[\`+lo+`-\`+hi+"]",
				"[[."+lo+".]-[."+hi+".]]", "[x"+lo+"-"+hi+"]", "["+lo+"-"+hi+"-]")
		}
	}
	names := []string{"", "[", "]", "-", "a", "[]", "x", "ab", "=", ".", ":", "[a", "xa"}
	for c := 1; c < 256; c++ {
		names = append(names, string([]byte{byte(c)}))
	}
	fails := 0
	for _, p := range patterns {
		for _, n := range names {
			if !differ(t, p, n) {
				fails++
				if fails > 50 {
					t.Fatal("too many mismatches")
				}
			}
		}
	}
}

// TestDifferentialClassNameLength probes glibc's limit on the length of a
// character class name, both while comparing members and while skipping the
// rest of a bracket that already matched.
func TestDifferentialClassNameLength(t *testing.T) {
	requireReference(t)
	for _, n := range []int{0, 1, 5, 6, 255, 256, 257, 1023, 1024, 2045, 2046, 2047, 2048, 2049, 2050, 4100} {
		letters := strings.Repeat("a", n)
		for _, p := range []string{
			"[[:" + letters + "]",
			"[[:" + letters + ":]x]",
			"[[:" + letters + "]x]",
			"[x[:" + letters + "]",
			"[x[:" + letters + ":]]",
			"[x[:" + letters + "]]",
			"*[x[:" + letters + "]]",
		} {
			for _, name := range []string{"[", "x", "a", ":", "]", "[a", "x]"} {
				differ(t, p, name)
			}
		}
	}
}

// realAliases are module-alias patterns of the kinds found in
// modules.alias.
var realAliases = []string{
	"pci:v00008086d00001234sv*sd*bc*sc*i*",
	"pci:v00001AF4d00001041sv*sd*bc*sc*i*",
	"pci:v*d*sv*sd*bc01sc08i02*",
	"pci:v00008086d*sv*sd*bc0Csc03i30*",
	"usb:v0B95p1790d*dc*dsc*dp*ic*isc*ip*in*",
	"usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*",
	"usb:v05ACp12[9Aa][0-9A-Fa-f]d*dc*dsc*dp*ic*isc*ip*in*",
	"usb:v0BDAp8153d[2-9]*dc*dsc*dp*icFFisc*ip*in*",
	"usb:v1D6Bp0003d0[0-4]*dc09dsc*dp03ic*isc*ip*in*",
	"dmi*:svnLENOVO*:pvrThinkPad*:*",
	"dmi*:svn*ASUSTeK*:pn*:*",
	"dmi:*:svnDellInc.:*:pnXPS13*",
	"acpi*:PNP0C09:*",
	"acpi*:ACPI0013:*",
	"acpi*:PNP0A0[38]:*",
	"of:N*T*Cfsl,imx6q-uart*",
	"of:N*T*Cfsl,imx6q-uartC*",
	"cpu:type:x86,ven*fam*mod*:feature:*0081*",
	"cpu:type:x86,ven0002fam0019mod*:feature:*",
	"virtio:d00000001v*",
	"platform:serial8250",
	"platform:rtc_cmos",
	"input:b0003v*p*e*-e*1,*k*",
	"hid:b0003g*v0000046Dp0000C52B",
	"mdio:0000000000010100000110011111????",
	"i2c:tmp[0-9][0-9][0-9]",
	"scsi:t-0x0[05]*",
	"platform:*[!a-z]*",
	`platform:with\*star`,
	"wmi:[[:xdigit:]]*-[[:upper:]]*",
}

// realModaliases are modalias strings from real devices.
var realModaliases = []string{
	"pci:v00008086d00001234sv00001028sd000004DAbc02sc00i00",
	"pci:v00001AF4d00001041sv00001AF4sd00001041bc02sc00i00",
	"pci:v00008086d00000D57sv00000000sd00000000bc06sc00i00",
	"pci:v00008086d0000A36Dsv00001028sd00000869bc0Csc03i30",
	"usb:v0B95p1790d0100dcFFdscFFdp00icFFiscFFip00in00",
	"usb:v05ACp129Ad0101dc00dsc00dp00ic08isc06ip50in00",
	"usb:v0BDAp8153d3100dc00dsc00dp00icFFiscFFip00in00",
	"usb:v1D6Bp0003d0415dc09dsc00dp03ic09isc00ip00in00",
	"dmi:bvnLENOVO:bvrN1EET62W(1.35):bd12/09/2019:svnLENOVO:pn20ET0030GE:pvrThinkPadT460s:rvnLENOVO:",
	"dmi:bvnDellInc.:bvr1.15.0:bd09/14/2022:svnDellInc.:pnXPS139310:pvr:",
	"acpi:PNP0C09:",
	"acpi:ACPI0013:",
	"acpi:PNP0A08:PNP0A03:",
	"acpi:AMZNC10C:VMCLOCK:",
	"of:NserialT(null)Cfsl,imx6q-uartCfsl,imx21-uart",
	"of:NserialT(null)Cfsl,imx6q-uart",
	"cpu:type:x86,ven0002fam0019mod0001:feature:,0000,0001,0002,0080,0081,0089",
	"cpu:type:x86,ven0000fam0006mod008E:feature:,0000,0001,0082",
	"virtio:d00000001v00001AF4",
	"platform:serial8250",
	"platform:rtc_cmos",
	"platform:with*star",
	"input:b0003v046Dp4024e0111-e0,1,4,11,14,k71,72,73,ram4,lsfw",
	"hid:b0003g0102v0000046Dp0000C52B",
	"mdio:00000000000101000001100111110001",
	"i2c:tmp102",
	"scsi:t-0x05",
	"wmi:8D9DDCBC-A997-11DA-B012-B622A1EF5492",
}

// TestDifferentialAliases compares real alias patterns with real modalias
// strings, and with every one-byte edit and every prefix of them.
func TestDifferentialAliases(t *testing.T) {
	requireReference(t)
	names := append([]string(nil), realModaliases...)
	for _, m := range realModaliases {
		for i := 0; i <= len(m); i++ {
			names = append(names, m[:i])
		}
		for i := 0; i < len(m); i++ {
			names = append(names, m[:i]+"x"+m[i+1:], m[:i]+m[i+1:])
		}
	}
	for _, p := range realAliases {
		for _, n := range names {
			if !differ(t, p, n) {
				t.FailNow()
			}
		}
	}
}
