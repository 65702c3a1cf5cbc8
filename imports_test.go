package modprobe_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
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

// sysfsPath reports whether the expression src names sysfs or procfs: a
// literal "/sys" or "/proc/sys", a name holding "sysfs", or a variable of
// derived (one assigned such an expression in the same file).
func sysfsPath(src string, derived map[string]bool) bool {
	if strings.Contains(src, `"/sys`) || strings.Contains(src, `"/proc/sys`) || strings.Contains(strings.ToLower(src), "sysfs") {
		return true
	}
	for _, w := range strings.FieldsFunc(src, func(r rune) bool { return r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if derived[w] {
			return true
		}
	}
	return false
}

// sysfsDerived returns the variables of file f assigned an expression
// that names sysfs or procfs (param := filepath.Join(sysfsDir, ...)).
func sysfsDerived(f *ast.File) map[string]bool {
	derived := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
			for i, rhs := range as.Rhs {
				if id, ok := as.Lhs[i].(*ast.Ident); ok && sysfsPath(types.ExprString(rhs), nil) {
					derived[id.Name] = true
				}
			}
		}
		return true
	})
	return derived
}

// sysfsWrite reports whether call opens for writing, or writes, a path
// that names sysfs or procfs (sysfsPath): os.WriteFile, os.Create, or an
// OpenFile with a write flag.
func sysfsWrite(call *ast.CallExpr, derived map[string]bool) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || len(call.Args) == 0 {
		return false
	}
	switch sel.Sel.Name {
	case "WriteFile", "Create":
	case "OpenFile":
		if len(call.Args) < 2 {
			return false
		}
		flags := types.ExprString(call.Args[1])
		if !strings.Contains(flags, "O_WRONLY") && !strings.Contains(flags, "O_RDWR") && !strings.Contains(flags, "O_APPEND") {
			return false
		}
	default:
		return false
	}
	return sysfsPath(types.ExprString(call.Args[0]), derived)
}

// TestSysfsWriteCheck: the check of TestKernelSeamCalls finds the direct
// sysfs write kmodimage made before firmware_class.path went through
// internal/kernel, and lets reads and other files through.
func TestSysfsWriteCheck(t *testing.T) {
	for src, want := range map[string]bool{
		`os.WriteFile(filepath.Join(sysfsDir, "module/firmware_class/parameters/path"), []byte(dir), 0)`: true,
		`os.OpenFile("/sys/module/x/parameters/p", os.O_WRONLY|os.O_TRUNC, 0)`:                           true,
		`os.Create("/proc/sys/kernel/modprobe")`:                                                         true,
		`os.OpenFile(filepath.Join(sysfs, "module", name, "initstate"), os.O_RDONLY, 0)`:                 false,
		`os.WriteFile(filepath.Join(dir, "modules.dep"), data, 0o644)`:                                   false,
		`os.ReadFile("/sys/module/x/initstate")`:                                                         false,
	} {
		expr, err := parser.ParseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := sysfsWrite(expr.(*ast.CallExpr), nil); got != want {
			t.Errorf("sysfsWrite(%s) = %v, want %v", src, got, want)
		}
	}
	// The form kmodimage had: the path in a variable first.
	f, err := parser.ParseFile(token.NewFileSet(), "firmware.go", `package kmodimage
func set(sysfsDir, dir string) error {
	param := filepath.Join(sysfsDir, "module/firmware_class/parameters/path")
	f, err := os.OpenFile(param, os.O_WRONLY|os.O_TRUNC, 0)
	out, err := os.OpenFile(rel, os.O_WRONLY|os.O_CREATE, 0o644)
	return err
}`, 0)
	if err != nil {
		t.Fatal(err)
	}
	derived := sysfsDerived(f)
	var found []bool
	ast.Inspect(f, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && strings.HasSuffix(types.ExprString(call.Fun), "OpenFile") {
			found = append(found, sysfsWrite(call, derived))
		}
		return true
	})
	if !slices.Equal(found, []bool{true, false}) {
		t.Errorf("kmodimage's old sysfs write: found %v, want [true false]", found)
	}
}

// TestKernelSeamCalls: the library's packages make no system call of
// their own and write no sysfs or procfs file themselves (sysfsWrite):
// uname, sysfs writes and the module calls go through
// internal/kernel (and file I/O through internal/fileio), so that the
// library builds and fakes everywhere. Only syscall's types and
// constants (errnos, signals) appear elsewhere; modprobetest, the fake
// kernel, writes its own fake sysfs. The commands (cmd/,
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
		derived := sysfsDerived(f)
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
			if sysfsWrite(call, derived) && filepath.Dir(path) != "modprobetest" {
				t.Errorf("%s: writes %s itself; sysfs and procfs are written through internal/kernel", fset.Position(call.Pos()), types.ExprString(call.Args[0]))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
