package kmodimage

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	inv, err := ParseArgs([]string{"-vd", "/tmp/opt", "a", "b", "c", "mod", "key0=value0", "key1=value1"})
	if err != nil || !inv.RootSet || inv.Root != "/tmp/opt" || inv.Verbose != 1 ||
		!reflect.DeepEqual(inv.Operands, []string{"a", "b", "c", "mod", "key0=value0", "key1=value1"}) {
		t.Fatalf("KMM's argv: %+v, %v", inv, err)
	}
	inv, err = ParseArgs([]string{"-rv", "--remove-holders", "-w", "1500", "--first-time", "-i", "x", "y"})
	if err != nil || !inv.Remove || !inv.RemoveOpts.RemoveHolders || inv.RemoveOpts.Wait != 1500*time.Millisecond ||
		!inv.RemoveOpts.FirstTime || !inv.RemoveOpts.IgnoreCommands || !reflect.DeepEqual(inv.Operands, []string{"x", "y"}) {
		t.Fatalf("removal: %+v, %v", inv, err)
	}
	inv, err = ParseArgs([]string{"-a", "-b", "-f", "-n", "-q", "-S", "6.1.0", "-C", "/etc/kmm.d", "--dirname=/srv", "m1", "m2"})
	if err != nil || !inv.All || !inv.Load.UseBlacklist || !inv.Load.ForceVermagic || !inv.Load.ForceModversion || !inv.RemoveOpts.Force ||
		!inv.Load.DryRun || !inv.Quiet || inv.KernelRelease != "6.1.0" || !reflect.DeepEqual(inv.ConfigPaths, []string{"/etc/kmm.d"}) || inv.Root != "/srv" {
		t.Fatalf("load options: %+v, %v", inv, err)
	}
	inv, err = ParseArgs([]string{"--force-vermagic", "--", "-x"})
	if err != nil || !inv.Load.ForceVermagic || inv.Load.ForceModversion || !reflect.DeepEqual(inv.Operands, []string{"-x"}) {
		t.Fatalf("--: %+v, %v", inv, err)
	}

	for _, tc := range []struct {
		args []string
		want error
		has  string
	}{
		{[]string{"-D", "m"}, ErrUnsupportedFlag, "-D"},
		{[]string{"--show-depends", "m"}, ErrUnsupportedFlag, "-D"},
		{[]string{"-c"}, ErrUnsupportedFlag, "-c"},
		{[]string{"--show-exports", "m"}, ErrUnsupportedFlag, "--show-exports"},
		{[]string{"-V"}, ErrUnsupportedFlag, "-V"},
		{[]string{"-s", "m"}, ErrUnsupportedFlag, "-s"},
		{[]string{"-x", "m"}, ErrBadArgs, "invalid option -- 'x'"},
		{[]string{"--bogus"}, ErrBadArgs, "unrecognized option '--bogus'"},
		{[]string{"-d"}, ErrBadArgs, "requires an argument"},
		{[]string{"-w", "soon", "-r", "m"}, ErrBadArgs, `unexpected wait value "soon"`},
	} {
		_, err := ParseArgs(tc.args)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.has) {
			t.Errorf("ParseArgs(%q) = %v; want %v with %q", tc.args, err, tc.want, tc.has)
		}
	}
}
