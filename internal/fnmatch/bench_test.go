package fnmatch

import (
	"strings"
	"testing"

	"github.com/gokmod/modprobe/internal/fnmatch/internal/cfnmatch"
)

// aliasBench is a module-alias pattern with a modalias it matches and one it
// does not.
type aliasBench struct {
	name, pattern, hit, miss string
}

var aliasBenches = []aliasBench{
	{"PCI", "pci:v00008086d00001234sv*sd*bc*sc*i*",
		"pci:v00008086d00001234sv00001028sd000004DAbc02sc00i00",
		"pci:v00008086d00001237sv00001028sd000004DAbc02sc00i00"},
	{"USB", "usb:v0B95p1790d*dc*dsc*dp*ic*isc*ip*in*",
		"usb:v0B95p1790d0100dcFFdscFFdp00icFFiscFFip00in00",
		"usb:v0B95p772Bd0001dcFFdscFFdp00icFFiscFFip00in00"},
	{"DMI", "dmi*:svnLENOVO*:pvrThinkPad*:*",
		"dmi:bvnLENOVO:bvrN1EET62W(1.35):bd12/09/2019:br1.35:efr1.13:svnLENOVO:pn20ET0030GE:pvrThinkPadT460s:rvnLENOVO:rn20ET0030GE:rvrSDK0J40697WIN:cvnLENOVO:ct10:cvrNone:skuLENOVO_MT_20ET_BU_Think_FM_ThinkPadT460s:",
		"dmi:bvnDellInc.:bvr1.15.0:bd09/14/2022:br1.15:svnDellInc.:pnXPS139310:pvr:rvnDellInc.:rn0F7N7V:rvrA00:cvnDellInc.:ct10:cvr:sku0991:"},
	{"ACPI", "acpi*:PNP0C09:*", "acpi:PNP0C09:", "acpi:INT33A1:PNP0D80:"},
	{"OF", "of:N*T*Cfsl,imx6q-uart*",
		"of:NserialT(null)Cfsl,imx6q-uartCfsl,imx21-uart",
		"of:NserialT(null)Cfsl,imx6ul-uartCfsl,imx21-uart"},
	{"CPU", "cpu:type:x86,ven*fam*mod*:feature:*0081*",
		"cpu:type:x86,ven0000fam0006mod008E:feature:,0000,0001,0002,0003,0004,0005,0006,0007,0008,0009,000B,000C,000D,000E,000F,0010,0011,0013,0015,0016,0017,0018,0019,001A,001B,001C,001D,001F,002B,0034,003A,003B,003D,0068,006B,006C,006D,006F,0070,0072,0074,0075,0076,0078,0079,007C,0080,0081,0082,0083,0084,0085,0086,0087,0088,0089,008B,008C,008D,008E,008F,0091,0092,0093,0094,0095,0096,0097,0098,0099,009A,009B,009C,009D,009E,00C0,00C5,00E1,00E3,00E5,00E6,00E7,00EB,00EC,00F0,00F1,00F3,00F5,00F6,00F9,00FA,00FB,00FD,00FF,0120,0123,0125,0127,0128,0129,012A,012D,0140,0165,024A,025A,025B,025C,025F",
		"cpu:type:x86,ven0000fam0006mod008E:feature:,0000,0001,0002,0003,0004,0005,0006,0007,0008,0009,000B,000C,000D,000E,000F,0010,0011,0013,0015,0016,0017,0018,0019,001A,001B,001C,001D,001F,002B,0034,003A,003B,003D,0068,006B,006C,006D,006F,0070,0072,0074,0075,0076,0078,0079,007C,0080,0082,0083,0084,0085,0086,0087,0088,0089,008B,008C,008D,008E,008F,0091,0092,0093,0094,0095,0096,0097,0098,0099,009A,009B,009C,009D,009E,00C0,00C5,00E1,00E3,00E5,00E6,00E7,00EB,00EC,00F0,00F1,00F3,00F5,00F6,00F9,00FA,00FB,00FD,00FF,0120,0123,0125,0127,0128,0129,012A,012D,0140,0165,024A,025A,025B,025C,025F"},
}

// benchAlias runs the hit and miss cases of one alias. The calls need no
// sink: b.Loop keeps the compiler from optimising them away.
func benchAlias(b *testing.B, name string) {
	for _, ab := range aliasBenches {
		if ab.name != name {
			continue
		}
		if !Match(ab.pattern, ab.hit) || Match(ab.pattern, ab.miss) {
			b.Fatalf("%s: benchmark inputs do not match as expected", name)
		}
		b.Run("hit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Match(ab.pattern, ab.hit)
			}
		})
		b.Run("miss", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Match(ab.pattern, ab.miss)
			}
		})
		return
	}
	b.Fatalf("no benchmark %q", name)
}

// BenchmarkMatchPCI times a PCI alias (literal prefix, then stars).
func BenchmarkMatchPCI(b *testing.B) { benchAlias(b, "PCI") }

// BenchmarkMatchUSB times a USB alias with many short segments.
func BenchmarkMatchUSB(b *testing.B) { benchAlias(b, "USB") }

// BenchmarkMatchDMI times a DMI alias against a long modalias.
func BenchmarkMatchDMI(b *testing.B) { benchAlias(b, "DMI") }

// BenchmarkMatchACPI times a short ACPI alias.
func BenchmarkMatchACPI(b *testing.B) { benchAlias(b, "ACPI") }

// BenchmarkMatchOF times a device-tree alias.
func BenchmarkMatchOF(b *testing.B) { benchAlias(b, "OF") }

// BenchmarkMatchCPU times a CPU feature alias against a long feature list.
func BenchmarkMatchCPU(b *testing.B) { benchAlias(b, "CPU") }

// BenchmarkMatchAllAliases matches one PCI modalias against all the
// patterns above, as modprobe does while scanning aliases.
func BenchmarkMatchAllAliases(b *testing.B) {
	name := aliasBenches[0].hit
	b.ReportAllocs()
	for b.Loop() {
		for _, ab := range aliasBenches {
			Match(ab.pattern, name)
		}
	}
}

// BenchmarkMatchStars is the classic exponential-backtracking trap.
func BenchmarkMatchStars(b *testing.B) {
	pattern := "a*a*a*a*a*b"
	name := strings.Repeat("a", 1000)
	b.ReportAllocs()
	for b.Loop() {
		Match(pattern, name)
	}
}

// BenchmarkMatchBrackets exercises bracket expressions with classes and
// ranges.
func BenchmarkMatchBrackets(b *testing.B) {
	pattern := "*[[:upper:]][[:digit:]][!a-z0-9]*[xX][[:xdigit:]][[:xdigit:]]"
	name := "platform:serial8250-Q7_uart-port-xAF"
	b.ReportAllocs()
	for b.Loop() {
		Match(pattern, name)
	}
}

// BenchmarkReferenceGlibc times the cgo reference (glibc plus cgo call and
// copy overhead) on the PCI hit, for comparison only.
func BenchmarkReferenceGlibc(b *testing.B) {
	if !cfnmatch.Available() {
		b.Skip(cfnmatch.Reason())
	}
	ab := aliasBenches[0]
	for b.Loop() {
		cfnmatch.Match(ab.pattern, ab.hit)
	}
}
