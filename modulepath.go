package modprobe

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gokmod/modprobe/internal/modname"
)

// PlanFile is Plan for the module file at path, as modprobe PATH does
// since kmod 31: the module is that file, named after it (the file name up
// to its first dot, with '-' as '_'), and the module's dependencies,
// options, softdeps and install command are those of its name in the
// module directory and configuration. The dependencies come from the
// module directory's index: a file whose own dependencies changed since
// depmod ran gets the old ones, as with kmod. A relative path is taken
// from the working directory and printed as kmod prints it, not cleaned
// ("/cwd/./x.ko").
//
// It returns a *ModuleError wrapping the file's error (fs.ErrNotExist and
// the errno, say) when the file cannot be stat'ed, syscall.ENOENT for a
// path that ends in '/', or ErrBadName for a path with a NUL byte. A path
// names a file to insert: PlanFile is for a program that means a file, as
// modprobe's administrator does; Plan never takes a name for a path.
func (l *Loader) PlanFile(ctx context.Context, path string, params []string, opts PlanOptions) (*Plan, error) {
	defer l.keepAlive()
	p, mods, err := l.resolveFile(ctx, OpPlan, path)
	if err != nil {
		return nil, err
	}
	return l.planModules(ctx, p, mods, path, params, opts, false)
}

// LookupFile returns the module the file at path is, as modprobe -R PATH
// prints it (kmod 31 and later), with its errors as PlanFile's.
func (l *Loader) LookupFile(ctx context.Context, path string) (Module, error) {
	defer l.keepAlive()
	p, mods, err := l.resolveFile(ctx, OpLookup, path)
	if err != nil {
		return Module{}, err
	}
	return p.public(mods[0]), nil
}

// resolveFile starts a request for the module file at path: a pool and the
// one module the file is, as libkmod's kmod_module_new_from_path makes
// it.
func (l *Loader) resolveFile(ctx context.Context, op Op, path string) (*pool, []*module, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, moduleErr(op, path, "", err)
	}
	if path == "" || strings.IndexByte(path, 0) >= 0 {
		return nil, nil, moduleErr(op, path, "", ErrBadName)
	}
	abs, err := absoluteCwd(path)
	if err != nil {
		return nil, nil, moduleErr(op, path, "", err)
	}
	p, err := l.newPool(ctx)
	if err != nil {
		return nil, nil, moduleErr(op, path, "", err)
	}
	m, err := p.newFromPath(abs, modname.FromPath(path))
	if err != nil {
		return nil, nil, moduleErr(op, path, abs, err)
	}
	return p, []*module{m}, nil
}

// absoluteCwd is libkmod's path_make_absolute_cwd: a relative path is put
// after the working directory (as $PWD names it when it can), without
// cleaning.
func absoluteCwd(path string) (string, error) {
	if strings.HasPrefix(path, "/") {
		return path, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory for %s: %w", path, err)
	}
	return wd + "/" + path, nil
}
