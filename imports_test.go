package modprobe_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSyscallSeam enforces the design's one door to the kernel: only
// internal/kernel imports golang.org/x/sys/unix.
func TestSyscallSeam(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || d.Name() == "bench") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "golang.org/x/sys/unix") && filepath.Dir(path) != filepath.Join("internal", "kernel") {
				t.Errorf("%s imports %s; only internal/kernel may", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKernelSeamCalls: the library's packages make no system call of
// their own: uname, sysfs writes and the module calls go through
// internal/kernel (and file I/O through internal/fileio), so that the
// library builds and fakes everywhere. Only syscall's types and
// constants (errnos, signals) appear elsewhere. The commands (cmd/,
// internal/cli) and the test VM may make process-level calls.
func TestKernelSeamCalls(t *testing.T) {
	allowed := map[string]bool{
		filepath.Join("internal", "kernel"): true,
		filepath.Join("internal", "fileio"): true,
		filepath.Join("internal", "cli"):    true,
		filepath.Join("internal", "vmtest"): true,
	}
	conversions := map[string]bool{"Errno": true, "Signal": true}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bench" || d.Name() == "cmd" || allowed[path]) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != "." {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "syscall" && !conversions[sel.Sel.Name] {
				t.Errorf("%s: calls syscall.%s; the kernel is reached through internal/kernel", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
