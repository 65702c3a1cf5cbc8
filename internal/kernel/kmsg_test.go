package kernel

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseKmsg(t *testing.T) {
	buf := "6,1,100,-;dummy: loaded\n SUBSYSTEM=net\n DEVICE=n2\n3,2,200,-,caller=T1;ip_vs_wrr: Unknown symbol register_ip_vs_scheduler (err -2)\n4,3,300,c;tab\\x09and\\x5cslash\nno header line\n"
	got := parseKmsg([]byte(buf), nil)
	want := []string{"dummy: loaded", "ip_vs_wrr: Unknown symbol register_ip_vs_scheduler (err -2)", "tab\tand\\slash"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestKmsgFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmsg")
	if err := os.WriteFile(path, []byte("3,1,0,-;old message\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := OpenKmsg(path)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("3,2,0,-;new message\n")
	f.Close()
	msgs, err := k.ReadNew()
	if err != nil || strings.Join(msgs, "|") != "new message" {
		t.Errorf("ReadNew = %q, %v: only what came after the open", msgs, err)
	}
}

func FuzzKmsg(f *testing.F) {
	f.Add([]byte("6,1,100,-;dummy: loaded\n SUBSYSTEM=net\n"))
	f.Add([]byte("3,2,0,-;a\\x0\\x\\xzz;b\n;\n\\x41"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range parseKmsg(b, nil) {
			if strings.Contains(m, "\n") && !strings.Contains(string(b), `\x0a`) && !strings.Contains(string(b), `\x0A`) {
				t.Fatalf("message %q holds a newline the input did not escape", m)
			}
		}
	})
}

func FuzzProcModules(f *testing.F) {
	f.Add("dummy 16384 0 - Live 0x0000000000000000\nip_vs 188416 2 ip_vs_wrr, Live 0x0\n")
	f.Add("x\n\n y z\n")
	f.Fuzz(func(t *testing.T, s string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "modules"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		mods, err := ReadProcModules(dir)
		if err == nil {
			for _, m := range mods {
				if m.Name == "" {
					t.Fatalf("empty module name from %q", s)
				}
			}
		}
	})
}
