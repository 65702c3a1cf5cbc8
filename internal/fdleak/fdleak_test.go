package fdleak

import (
	"os"
	"strings"
	"testing"
)

func TestLeaks(t *testing.T) {
	before, err := open()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("fdleak.go")
	if err != nil {
		t.Fatal(err)
	}
	got := leaks(before)
	if len(got) != 1 || !strings.Contains(got[0], "fdleak.go") {
		t.Fatalf("leaks = %q; want the open fdleak.go", got)
	}
	f.Close()
	if got := leaks(before); len(got) != 0 {
		t.Fatalf("leaks after Close = %q", got)
	}
}
