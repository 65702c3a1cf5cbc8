package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadInitState(t *testing.T) {
	sys := t.TempDir()
	write := func(mod, content string) {
		dir := filepath.Join(sys, "module", mod)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if content != "" {
			if err := os.WriteFile(filepath.Join(dir, "initstate"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("live_mod", "live\n")
	write("coming_mod", "coming\n")
	write("going_mod", "going\n")
	write("dir_only", "")
	write("weird", "unloading\n")
	for mod, want := range map[string]InitState{
		"live_mod": Live, "coming_mod": Coming, "going_mod": Going, "dir_only": Coming, "absent": NotLoaded,
	} {
		got, err := ReadInitState(sys, mod)
		if err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", mod, got, err, want)
		}
	}
	_, err := ReadInitState(sys, "weird")
	if !errors.Is(err, ErrBadState) || err.Error() != "unknown "+filepath.Join(sys, "module/weird/initstate")+": 'unloading\n'" {
		t.Errorf("weird: %v", err)
	}
}

func TestRelease(t *testing.T) {
	rel, err := Release()
	if err != nil || rel == "" {
		t.Errorf("Release() = %q, %v", rel, err)
	}
}

// TestReadHoldersNormalizes: holder names are what libkmod makes of them,
// so a stray .gitkeep (kmod's test trees keep one in an empty holders
// directory) is the empty name lsmod prints, never ".gitkeep".
func TestReadHoldersNormalizes(t *testing.T) {
	sys := t.TempDir()
	dir := filepath.Join(sys, "module", "a", "holders")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{".gitkeep", "b-c"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadHolders(sys, "a")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"", "b_c"}) {
		t.Errorf("ReadHolders(a) = %q, %v; want [\"\" b_c]", got, err)
	}
	if got, err := ReadHolders(sys, "absent"); err != nil || got != nil {
		t.Errorf("ReadHolders(absent) = %q, %v; want none", got, err)
	}
}
