package kmodimage

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// emptyToNil turns empty lists of c into nil ones, which a configuration
// file cannot tell apart.
func emptyToNil(c *ModuleConfig) {
	norm := func(s *[]string) {
		if len(*s) == 0 {
			*s = nil
		}
	}
	norm(&c.InTreeModulesToRemove)
	norm(&c.Modprobe.Parameters)
	norm(&c.Modprobe.ModulesLoadingOrder)
	for _, a := range []*ModprobeArgs{c.Modprobe.Args, c.Modprobe.RawArgs} {
		if a != nil {
			norm(&a.Load)
			norm(&a.Unload)
		}
	}
}

// FuzzConfig checks that any worker configuration decodes to a valid
// configuration or an ErrConfig naming the file, never a panic; that a
// valid one written back as YAML reads the same; and that its modprobe
// argument lists and loading order can be used.
func FuzzConfig(f *testing.F) {
	if data, err := os.ReadFile("testdata/worker-config.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("kernelVersion: x\ncontainerImage: y\nmodprobe:\n  rawArgs: {load: [-v, m], unload: [-r, m]}\n"))
	f.Add([]byte("kernelVersion: \"6.1\"\ncontainerImage: 'r/i:$KERNEL_XYZ'\ninTreeModulesToRemove: []\nmodprobe:\n  moduleName: m\n  args: {}\n  parameters: [\"a=b c\"]\n  modulesLoadingOrder: [m, n]\n  bogus: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "f.yaml")
		if err != nil {
			if !errors.Is(err, ErrConfig) || c != nil || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("ParseConfig: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil || c.Modprobe.DirName == "" {
			t.Fatalf("ParseConfig returned an invalid configuration: %v", err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", c, err)
		}
		again, err := ParseConfig(out, "again.yaml")
		if err != nil {
			t.Fatalf("ParseConfig of its own output %q: %v", out, err)
		}
		emptyToNil(c)
		emptyToNil(again)
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("ParseConfig(%q) = %+v, but written back as %q it reads %+v", data, c, out, again)
		}
		if in := c.InTreeModules(); c.InTreeModuleToRemove != "" && !slices.Equal(in, []string{c.InTreeModuleToRemove}) {
			t.Fatalf("InTreeModules() = %q with inTreeModuleToRemove %q", in, c.InTreeModuleToRemove)
		}
		if o := c.Modprobe.ModulesLoadingOrder; len(o) > 0 {
			sd := Softdeps(o)
			if len(sd) != len(o)-1 || sd[0].Module != c.Modprobe.ModuleName {
				t.Fatalf("Softdeps(%q) = %+v", o, sd)
			}
			if conf := SoftdepConf(o); strings.Count(conf, "\n") != len(o)-1 {
				t.Fatalf("SoftdepConf(%q) = %q", o, conf)
			}
		}
		for _, a := range []*ModprobeArgs{c.Modprobe.Args, c.Modprobe.RawArgs} {
			if a != nil {
				checkArgs(t, a.Load)
				checkArgs(t, a.Unload)
			}
		}
	})
}

// FuzzResolve checks mapping, variables and substitution on any kernel
// release, image template and regular expression: the literal mapping
// wins when it matches, the regexp one only when it compiles and
// matches; the variables follow the normalised version; an image without
// "$" is kept as it is; every failure is one of the documented ones.
func FuzzResolve(f *testing.F) {
	f.Add("5.10.123+", "reg/$MOD_NAME:${KERNEL_XYZ}", `^5\.`)
	f.Add("6.1.0-13-amd64", "reg/${X:-${KERNEL_X}}", "(")
	f.Add("", "reg/plain", "")
	f.Add("a b,c-d.é", "r/${KERNEL_FULL_VERSION}-${KERNEL_Z}", ".")
	f.Fuzz(func(t *testing.T, release, image, re string) {
		kernel := NodeKernel(release, false)
		if kernel != strings.TrimSuffix(release, "+") || NodeKernel(release, true) != release {
			t.Fatalf("NodeKernel(%q) = %q", release, kernel)
		}
		norm := NormalizeVersion(kernel)
		if strings.Count(norm, "")-1 != strings.Count(kernel, "")-1 || strings.Trim(norm, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			t.Fatalf("NormalizeVersion(%q) = %q", kernel, norm)
		}
		vars, verr := KernelVars(kernel)
		if parts := strings.Split(strings.NewReplacer(",", ".", "-", ".").Replace(norm), "."); verr == nil {
			want := []string{VarKernelFullVersion + "=" + norm, VarKernelVersion + "=" + norm,
				VarKernelXYZ + "=" + strings.Join(parts[:3], "."),
				VarKernelX + "=" + parts[0], VarKernelY + "=" + parts[1], VarKernelZ + "=" + parts[2]}
			if !slices.Equal(vars, want) {
				t.Fatalf("KernelVars(%q) = %q, want %q", kernel, vars, want)
			}
		} else if len(parts) >= 3 {
			t.Fatalf("KernelVars(%q): %v, but it has %d components", kernel, verr, len(parts))
		} else if !errors.Is(verr, ErrBadVersion) {
			t.Fatalf("KernelVars(%q): %v", kernel, verr)
		}

		r, err := Resolve([]KernelMapping{{Literal: release}, {Regexp: re}}, KernelMapping{ContainerImage: image}, Target{Release: release, ModName: "m"})
		literal := release != "" && release == kernel
		compiled, cerr := regexp.Compile(re)
		if err != nil {
			switch {
			case errors.Is(err, ErrNoMapping):
				if literal || re != "" && cerr == nil && compiled.MatchString(kernel) {
					t.Fatalf("Resolve(%q, %q): %v, but a mapping matches", release, re, err)
				}
			case errors.Is(err, ErrBadVersion):
				if verr == nil {
					t.Fatalf("Resolve(%q): %v, but KernelVars accepts it", release, err)
				}
			case image == "" || cerr != nil || strings.Contains(image, "$"):
			default:
				t.Fatalf("Resolve(%q, %q, %q): unexpected %v", release, image, re, err)
			}
			return
		}
		if r.KernelVersion != kernel || (r.Mapping == 0) != literal || r.Mapping == 1 && (cerr != nil || !compiled.MatchString(kernel)) {
			t.Fatalf("Resolve(%q, %q) = %+v", release, re, r)
		}
		if verr != nil || image == "" {
			t.Fatalf("Resolve(%q, %q) = %+v, but KernelVars says %v", release, image, r, verr)
		}
		if !strings.Contains(image, "$") && r.ContainerImage != image {
			t.Fatalf("Resolve kept no plain image %q: %q", image, r.ContainerImage)
		}
	})
}

// canonicalArgs writes inv back as a modprobe argument list: every
// option in its long form (or -a, -r, -v, -q, -i, -b, -f, -n), then "--"
// and the operands.
func canonicalArgs(inv Invocation) []string {
	var a []string
	flag := func(on bool, s string) {
		if on {
			a = append(a, s)
		}
	}
	flag(inv.All, "-a")
	flag(inv.Remove, "-r")
	flag(inv.RootSet, "--dirname="+inv.Root)
	flag(inv.KernelRelease != "", "--set-version="+inv.KernelRelease)
	for _, c := range inv.ConfigPaths {
		a = append(a, "--config="+c)
	}
	for range inv.Verbose {
		a = append(a, "-v")
	}
	flag(inv.Quiet, "-q")
	flag(inv.Load.IgnoreCommands, "-i")
	flag(inv.Load.UseBlacklist, "-b")
	flag(inv.RemoveOpts.Force, "-f")
	flag(inv.Load.ForceVermagic && !inv.RemoveOpts.Force, "--force-vermagic")
	flag(inv.Load.ForceModversion && !inv.RemoveOpts.Force, "--force-modversion")
	flag(inv.Load.FirstTime, "--first-time")
	flag(inv.Load.DryRun, "-n")
	flag(inv.RemoveOpts.RemoveHolders, "--remove-holders")
	flag(inv.RemoveOpts.Wait != 0, "--wait="+strconv.FormatInt(int64(inv.RemoveOpts.Wait/time.Millisecond), 10))
	return append(append(a, "--"), inv.Operands...)
}

// checkArgs parses argv with ParseArgs and checks the result: an error
// is ErrBadArgs or ErrUnsupportedFlag with nothing else; an invocation
// keeps the operands in order and reads the same when written back in
// canonical form.
func checkArgs(t *testing.T, argv []string) {
	t.Helper()
	inv, err := ParseArgs(argv)
	if err != nil {
		if !errors.Is(err, ErrBadArgs) && !errors.Is(err, ErrUnsupportedFlag) || !reflect.DeepEqual(inv, Invocation{}) {
			t.Fatalf("ParseArgs(%q) = %+v, %v", argv, inv, err)
		}
		return
	}
	if len(inv.Operands) == 0 {
		inv.Operands = nil
	}
	noOptions := !slices.ContainsFunc(argv, func(s string) bool { return strings.HasPrefix(s, "-") && s != "-" })
	if noOptions && !slices.Equal(inv.Operands, argv) && len(argv) > 0 {
		t.Fatalf("ParseArgs(%q): operands %q", argv, inv.Operands)
	}
	if len(argv) > 0 && argv[0] == "--" && !slices.Equal(inv.Operands, argv[1:]) && len(argv) > 1 {
		t.Fatalf("ParseArgs(%q): operands %q after a leading --", argv, inv.Operands)
	}
	canon := canonicalArgs(inv)
	again, err := ParseArgs(canon)
	if err != nil {
		t.Fatalf("ParseArgs(%q) = %+v, but its canonical form %q fails: %v", argv, inv, canon, err)
	}
	if len(again.Operands) == 0 {
		again.Operands = nil
	}
	if !reflect.DeepEqual(again, inv) {
		t.Fatalf("ParseArgs(%q) = %+v, but its canonical form %q reads %+v", argv, inv, canon, again)
	}
}

// FuzzArgs reads arbitrary newline-separated words as a KMM modprobe
// argument list (args or rawArgs), see checkArgs.
func FuzzArgs(f *testing.F) {
	f.Add("-vd\n/tmp/opt\na\nmod\nkey0=value0")
	f.Add("-rv\n--remove-holders\n-w\n1500\n--first-time\n-i\nx\ny")
	f.Add("-a\n-b\n-f\n-n\n-q\n-S\n6.1.0\n-C\n/etc/kmm.d\n--dirname=/srv\nm1\nm2")
	f.Add("--force-vermagic\n--\n-x")
	f.Add("-D\nm")
	f.Add("--wait=99999999999999999999\n--conf=x\n--di\n\n-")
	f.Fuzz(func(t *testing.T, args string) {
		checkArgs(t, strings.Split(args, "\n"))
	})
}

// FuzzLayoutSpec checks the "oci:" reference grammar, "DIR", "DIR:TAG"
// or "DIR@DIGEST": a split spec has a directory and joins back to the
// spec; a digest comes after the last "@", a tag after the last ":" when
// it is a valid tag; and the parts split again the same way.
func FuzzLayoutSpec(f *testing.F) {
	f.Add("/srv/layout")
	f.Add("/srv/layout:6.1.0-13-amd64")
	f.Add("/srv/lay:out@sha256:" + strings.Repeat("ab", 32))
	f.Add("dir:with:colons:not a tag")
	f.Add("@sha256:00")
	f.Add(":tag")
	f.Fuzz(func(t *testing.T, spec string) {
		dir, tag, digest, err := splitLayoutSpec(spec)
		if err != nil {
			if dir != "" || tag != "" || err.Error() == "" {
				t.Fatalf("splitLayoutSpec(%q) = %q, %q, %v", spec, dir, tag, err)
			}
			return
		}
		joined := dir
		switch {
		case digest.Hex != "":
			if tag != "" || strings.Contains(spec[len(dir)+1:], "@") {
				t.Fatalf("splitLayoutSpec(%q): tag %q and digest %v", spec, tag, digest)
			}
			joined += "@" + digest.String()
		case tag != "":
			if !ociTag.MatchString(tag) || strings.Contains(spec, "@") {
				t.Fatalf("splitLayoutSpec(%q): bad tag %q", spec, tag)
			}
			joined += ":" + tag
		default:
			if i := strings.LastIndex(spec, ":"); strings.Contains(spec, "@") || i >= 0 && ociTag.MatchString(spec[i+1:]) {
				t.Fatalf("splitLayoutSpec(%q): no tag nor digest", spec)
			}
		}
		if dir == "" || joined != spec {
			t.Fatalf("splitLayoutSpec(%q) = %q, %q, %v, which join to %q", spec, dir, tag, digest, joined)
		}
		d2, t2, h2, err := splitLayoutSpec(joined)
		if err != nil || d2 != dir || t2 != tag || h2 != digest {
			t.Fatalf("splitLayoutSpec(%q) = %q, %q, %v, %v; want %q, %q, %v", joined, d2, t2, h2, err, dir, tag, digest)
		}
	})
}
