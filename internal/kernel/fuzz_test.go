package kernel

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzModState puts arbitrary bytes in every sysfs file of a module that
// is read as text (refcnt, coresize, initstate, a parameter, and
// /sys/module/compression) and checks each reader against its documented
// grammar: a base-10 number followed by whitespace in the first 63 bytes;
// exactly "live\n", "coming\n" or "going\n" (else a *StateError with the
// content); the value without one trailing newline.
func FuzzModState(f *testing.F) {
	for _, s := range []string{"1\n", "0 \n", "-3\t", "+7\n", "12", " 5\n", "99999999999999999999\n", "0x10\n",
		"live\n", "coming\n", "going\n", "live", "unloading\n", "zstd\n", "Y\n\n", strings.Repeat("9", 62) + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sysfs := t.TempDir()
		dir := filepath.Join(sysfs, "module", "m")
		if err := os.MkdirAll(filepath.Join(dir, "parameters"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"refcnt", "coresize", "initstate", "parameters/p", "../compression"} {
			if err := os.WriteFile(filepath.Join(dir, p), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}

		// readLong: strtol's digits up to the first whitespace, which
		// must follow them within the 63 bytes read.
		head := string(data[:min(len(data), 63)])
		end := strings.IndexAny(head, " \t\n\v\f\r")
		want, wantErr := 0, errors.New("no number")
		if end > 0 {
			want, wantErr = strconv.Atoi(head[:end])
		}
		if wantErr != nil {
			want = 0
		}
		n, err := ReadRefcnt(sysfs, "m")
		if (err == nil) != (wantErr == nil) || n != want {
			t.Fatalf("ReadRefcnt of %q = %d, %v; want %d, %v", data, n, err, want, wantErr)
		}
		if err != nil && (n != 0 || !strings.Contains(err.Error(), filepath.Join(dir, "refcnt"))) {
			t.Fatalf("ReadRefcnt of %q: %d, %v: the error must name the file and come alone", data, n, err)
		}
		if size, err := ReadCoresize(sysfs, "m"); (err == nil) != (wantErr == nil) || size != int64(want) {
			t.Fatalf("ReadCoresize of %q = %d, %v; want %d, %v", data, size, err, want, wantErr)
		}

		st, err := ReadInitState(sysfs, "m")
		states := map[string]InitState{"live\n": Live, "coming\n": Coming, "going\n": Going}
		if s, ok := states[string(data)]; ok {
			if st != s || err != nil {
				t.Fatalf("ReadInitState of %q = %v, %v; want %v", data, st, err, s)
			}
		} else {
			var se *StateError
			if st != NotLoaded || !errors.As(err, &se) || !IsBadState(err) ||
				se.Content != string(data[:min(len(data), 31)]) || se.Error() == "" {
				t.Fatalf("ReadInitState of %q = %v, %v; want NotLoaded and a bad-state *StateError with the content", data, st, err)
			}
		}

		trimmed := string(bytes.TrimSuffix(data[:min(len(data), 1<<16)], []byte("\n")))
		if p, err := ReadParameter(sysfs, "m", "p"); err != nil || p != trimmed {
			t.Fatalf("ReadParameter of %q = %q, %v", data, p, err)
		}
		if c, err := ReadCompression(sysfs); err != nil || c != strings.TrimSuffix(head, "\n") {
			t.Fatalf("ReadCompression of %q = %q, %v", data, c, err)
		}
	})
}
