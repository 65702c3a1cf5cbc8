package index

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sync"

	"github.com/gokmod/modprobe/internal/fileio"
)

// Kind names one of the five indexes of a module directory.
type Kind int

// The indexes, in the order libkmod's kmod_load_resources opens them.
const (
	Dep Kind = iota
	Alias
	Symbols
	BuiltinAlias
	Builtin
	numKinds
)

// File returns the base name of the binary index of kind k.
func (k Kind) File() string {
	if k == BuiltinAlias {
		return "modules.builtin.alias.bin"
	}
	return k.base() + ".bin"
}

// TextFile returns the base name of the text file the index of kind k is
// built from when its binary form is absent.
func (k Kind) TextFile() string {
	if k == BuiltinAlias {
		return "modules.builtin.modinfo"
	}
	return k.base()
}

func (k Kind) base() string {
	switch k {
	case Dep:
		return "modules.dep"
	case Alias:
		return "modules.alias"
	case Symbols:
		return "modules.symbols"
	case Builtin:
		return "modules.builtin"
	}
	return "modules.builtin.alias"
}

// MaxTextSize is the largest text index file read as a fallback; the real
// ones are a few MiB at most.
const MaxTextSize = 64 << 20

// Source tells where an index of a Set came from.
type Source int

// Sources of an index.
const (
	FromNone Source = iota // absent or unusable: no entries
	FromBin                // the .bin file
	FromText               // built from the text file
)

// Set holds the five indexes of one module directory. Binary indexes are
// mapped when the Set is loaded; text fallbacks are built on first use.
// A Set is safe for concurrent use.
type Set struct {
	dir   string
	order Order
	log   func(error)
	slots [numKinds]slot

	prioOnce sync.Once
	prio     Priorities
}

type slot struct {
	src  Source
	once sync.Once
	idx  *Index
}

// Load opens the indexes of the module directory dir the way libkmod's
// kmod_load_resources does, and falls back to the text files depmod writes
// beside them when a binary index is missing. log, if not nil, receives the
// problems found: the same header errors libkmod logs, and lines skipped in
// text files.
//
// As in libkmod, if any index other than modules.builtin.alias.bin cannot
// be used, every index is read in ReinsertOrder; libkmod then reads each
// index per lookup with a reader that reorders values of equal priority.
func Load(dir string, log func(error)) *Set {
	if log == nil {
		log = func(error) {}
	}
	s := &Set{dir: dir, log: log}
	failed := false
	for k := Kind(0); k < numKinds; k++ {
		sl := &s.slots[k]
		x, err := Open(filepath.Join(dir, k.File()))
		switch {
		case err == nil:
			sl.src, sl.idx = FromBin, x
			sl.once.Do(func() {})
			continue
		case errors.Is(err, fs.ErrNotExist):
			if fileio.Exists(filepath.Join(dir, k.TextFile())) == nil {
				sl.src = FromText
				continue
			}
		default:
			var pe *PathError
			if !failed && errors.As(err, &pe) {
				log(err)
			}
		}
		sl.once.Do(func() {})
		if k != BuiltinAlias {
			failed = true
		}
	}
	if failed {
		s.order = ReinsertOrder
		for k := range s.slots {
			if x := s.slots[k].idx; x != nil {
				x.SetOrder(ReinsertOrder)
			}
		}
	}
	return s
}

// Order returns the value order every index of the set uses.
func (s *Set) Order() Order { return s.order }

// Source tells where the index of kind k comes from.
func (s *Set) Source(k Kind) Source { return s.slots[k].src }

// Get returns the index of kind k, building it from text on first use. It
// returns nil when the index is absent; a nil *Index has no entries.
func (s *Set) Get(k Kind) *Index {
	sl := &s.slots[k]
	sl.once.Do(func() { sl.idx = s.build(k) })
	return sl.idx
}

// build makes the index of kind k from its text file.
func (s *Set) build(k Kind) *Index {
	path := filepath.Join(s.dir, k.TextFile())
	data, err := fileio.ReadRegular(path, MaxTextSize)
	if err != nil {
		s.log(err)
		return nil
	}
	f := newTextReader(string(data))
	var (
		b   *Builder
		bad []error
	)
	switch k {
	case Dep:
		var prio Priorities
		b, prio, bad, err = BuildDep(f, path)
		s.prioOnce.Do(func() { s.prio = prio })
	case Alias, Symbols:
		b, bad, err = BuildAlias(f, path, s.priorities(), k == Alias)
	case Builtin:
		b, bad, err = BuildBuiltin(f, path)
	case BuiltinAlias:
		b, bad, err = BuildBuiltinAlias(f, path)
	}
	for _, e := range bad {
		s.log(e)
	}
	if err != nil {
		s.log(&PathError{Path: path, Err: err})
		return nil
	}
	x, err := b.Index()
	if err != nil {
		s.log(&PathError{Path: path, Err: err})
		return nil
	}
	x.SetOrder(s.order)
	return x
}

// priorities returns each module's depmod priority, from modules.dep.bin
// when it exists and from modules.dep otherwise.
func (s *Set) priorities() Priorities {
	if s.slots[Dep].src == FromText {
		s.Get(Dep) // building it records the priorities
	}
	s.prioOnce.Do(func() {
		s.prio = Priorities{}
		if s.slots[Dep].src == FromBin {
			s.slots[Dep].idx.Walk(func(key string, v Value) {
				if _, ok := s.prio[key]; !ok {
					s.prio[key] = v.Priority
				}
			})
		}
	})
	return s.prio
}

// Close unmaps the binary indexes.
func (s *Set) Close() error {
	var errs []error
	for k := range s.slots {
		if x := s.slots[k].idx; x != nil {
			errs = append(errs, x.Close())
		}
	}
	return errors.Join(errs...)
}

// FromData makes a Set of binary indexes held in memory, by file name
// (Kind.File), as package depmod's Indexes returns them for a layered
// tree. dir names the module directory the paths in modules.dep are
// relative to. An index that is absent or empty has no entries and, as
// in Load, puts every index in ReinsertOrder (depmod writes an empty
// modules.builtin.bin for a tree without modules.builtin, which libkmod
// cannot use); one that is not an index is an error.
func FromData(dir string, files map[string][]byte) (*Set, error) {
	s := &Set{dir: dir, log: func(error) {}}
	for k := Kind(0); k < numKinds; k++ {
		sl := &s.slots[k]
		sl.once.Do(func() {})
		data := files[k.File()]
		if len(data) == 0 {
			if k != BuiltinAlias {
				s.order = ReinsertOrder
			}
			continue
		}
		x, err := New(data)
		if err != nil {
			return nil, &PathError{Path: filepath.Join(dir, k.File()), Err: err}
		}
		sl.src, sl.idx = FromBin, x
	}
	for k := range s.slots {
		if x := s.slots[k].idx; x != nil {
			x.SetOrder(s.order)
		}
	}
	return s, nil
}
