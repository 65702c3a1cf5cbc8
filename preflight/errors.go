package preflight

import (
	"errors"
	"fmt"
)

// The kinds of problems: each Problem's Err wraps one of them.
var (
	// ErrSignature: the module's signature does not verify against the
	// given certificates.
	ErrSignature = errors.New("signature not accepted")
	// ErrModuleStruct: .gnu.linkonce.this_module is not the size of the
	// target's struct module.
	ErrModuleStruct = errors.New("struct module size differs from the kernel's")
	// ErrVermagic: the module's version magic is not the kernel's.
	ErrVermagic = errors.New("version magic differs from the kernel's")
	// ErrCRC: the module disagrees about the version (CRC) of a symbol.
	ErrCRC = errors.New("disagrees about version of symbol")
	// ErrUnknownSymbol: nothing in the target provides a symbol the
	// module needs (or only as GPL-only to a module whose license is not
	// GPL-compatible).
	ErrUnknownSymbol = errors.New("needs unknown symbol")
	// ErrNamespace: the module uses a symbol from a namespace it does
	// not import (import_ns).
	ErrNamespace = errors.New("uses a symbol from a namespace it does not import")
	// ErrMissingDependency: a module it depends on is neither in the
	// target, built in, nor among the modules checked.
	ErrMissingDependency = errors.New("depends on a module the target does not have")
	// ErrDependency: a module it depends on, among those checked, will
	// not load.
	ErrDependency = errors.New("depends on a module that will not load")
	// ErrUnreadable: the module file cannot be read or is not a module.
	ErrUnreadable = errors.New("not a readable module")
)

// ErrTarget: the target tree cannot be used (no module directory, no
// module to learn the kernel's vermagic and struct module from).
var ErrTarget = errors.New("unusable target kernel tree")

// ErrSameName: two modules given have the same module name; the kernel
// would take only one.
var ErrSameName = errors.New("two modules of the same name")

// Problem is one reason a module will not load.
type Problem struct {
	// Module is the module file; Name its module name.
	Module, Name string
	// Symbol is the symbol, or the module depended on, the problem is
	// about; "" when it is about the module as a whole.
	Symbol string
	// Err wraps one of the kinds above (errors.Is) and says what differs.
	Err  error
	kind error
}

// Kind returns the kind of problem: one of the Err variables above.
func (p *Problem) Kind() error { return p.kind }

// Error is the problem as one line: the module file, then what is wrong.
func (p *Problem) Error() string { return p.Module + ": " + p.Err.Error() }

// Unwrap returns the problem's error, which wraps its kind.
func (p *Problem) Unwrap() error { return p.Err }

func problem(m *candidate, symbol string, kind error, format string, args ...any) *Problem {
	err := fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
	return &Problem{Module: m.path, Name: m.name, Symbol: symbol, Err: err, kind: kind}
}
