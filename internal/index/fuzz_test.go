package index

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"time"

	"github.com/gokmod/modprobe/internal/modname"

	"github.com/gokmod/modprobe/internal/fnmatch"
)

// fuzzDeadline bounds the time one input may take. The index code
// promises to terminate on hostile data, and Go's fuzzer has no timeout of
// its own for one input: a slow input just stalls the worker.
const fuzzDeadline = 10 * time.Second

// fuzzFailure is raised by failf inside withDeadline.
type fuzzFailure struct{ msg string }

// failf fails the input being checked by withDeadline's fn.
func failf(format string, args ...any) {
	panic(fuzzFailure{fmt.Sprintf(format, args...)})
}

// withDeadline runs fn on another goroutine and fails the test with what
// fn passed to failf, with any other panic of fn and its stack, or with
// the stacks of all goroutines when fn does not return within
// fuzzDeadline. A hung fn is left running: the test has failed anyway.
func withDeadline(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		ok := false
		defer func() {
			if ok {
				done <- nil
				return
			}
			p := recover()
			if _, isFailure := p.(fuzzFailure); isFailure {
				done <- p
				return
			}
			done <- fmt.Sprintf("%v\n\n%s", p, debug.Stack())
		}()
		fn()
		ok = true
	}()
	timer := time.NewTimer(fuzzDeadline)
	defer timer.Stop()
	select {
	case p := <-done:
		switch p := p.(type) {
		case nil:
		case fuzzFailure:
			t.Fatal(p.msg)
		default:
			t.Fatalf("panic: %v", p)
		}
	case <-timer.C:
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("no result after %v; goroutines:\n%s", fuzzDeadline, buf)
	}
}

// errWalkBound aborts a walk that produced more output than any index of
// its size can hold.
var errWalkBound = errors.New("walk output bound exceeded")

// checkedWalk walks x and fails when the walk emits more than the data can
// hold: each stored value takes at least five bytes (priority and NUL), so
// a well-formed index yields fewer than len(data) values, and no key is
// longer than the file, so the key bytes handed to fn stay below
// len(data)². A walk beyond either bound is amplifying the file (a node
// reached again and again through cycles or shared child words), which
// makes Walk, Dump and Keys cost cubic time or memory.
func checkedWalk(x *Index, size int) (values int, err error) {
	maxValues := size
	maxKeyBytes := size * size
	keyBytes := 0
	defer func() {
		if p := recover(); p != nil {
			if p != errWalkBound {
				panic(p)
			}
			err = fmt.Errorf("Walk of a %d-byte index emitted over %d values or %d key bytes (%d values, %d key bytes so far)",
				size, maxValues, maxKeyBytes, values, keyBytes)
		}
	}()
	x.Walk(func(key string, v Value) {
		values++
		keyBytes += len(key)
		if values > maxValues || keyBytes > maxKeyBytes {
			panic(errWalkBound)
		}
	})
	return values, nil
}

// FuzzIndex reads arbitrary bytes as an index and runs every reader over
// it in both value orders: none may panic or hang, and none may produce
// more output than the file can hold.
func FuzzIndex(f *testing.F) {
	var empty Builder
	data, err := empty.Bytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, "")
	var b Builder
	for _, kv := range [][2]string{
		{"pci:v00008086d*sv*sd*bc*sc*i*", "e1000e"},
		{"fs-ext4", "ext4"},
		{"ext4", "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko"},
		{"usb:v[0-9]*", "usbcore"},
	} {
		if err := b.Add(kv[0], kv[1], 0); err != nil {
			f.Fatal(err)
		}
	}
	data, err = b.Bytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, "pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00")
	f.Add(data, "fs-ext4")

	f.Fuzz(func(t *testing.T, data []byte, query string) {
		withDeadline(t, func() {
			x, err := New(data)
			if err != nil {
				if x != nil {
					failf("New returned an index and the error %v", err)
				}
				if !errors.Is(err, ErrFormat) {
					failf("New error %v does not wrap ErrFormat", err)
				}
				return
			}
			if x.Size() != len(data) {
				failf("Size() = %d, want %d", x.Size(), len(data))
			}
			for _, o := range []Order{StoredOrder, ReinsertOrder} {
				x.SetOrder(o)
				n, err := checkedWalk(x, len(data))
				if err != nil {
					failf("order %d: %v", o, err)
				}
				if v, ok := x.Lookup(query); !ok && v != "" {
					failf("order %d: Lookup(%q) = %q, false", o, query, v)
				}
				res := x.Search(query)
				if len(res) > len(data) {
					failf("order %d: Search(%q) returned %d values from a %d-byte index", o, query, len(res), len(data))
				}
				for i := 1; i < len(res); i++ {
					if res[i].Priority < res[i-1].Priority {
						failf("order %d: Search(%q) is not ordered by priority: %v", o, query, res)
					}
				}
				if err := x.Dump(io.Discard, "alias "); err != nil {
					failf("order %d: Dump: %v", o, err)
				}
				if kv := x.Keys(); len(kv) != n {
					failf("order %d: Keys() returned %d entries, Walk %d", o, len(kv), n)
				}
			}
			if err := x.Close(); err != nil {
				failf("Close: %v", err)
			}
		})
	})
}

// roundTripPriorities maps the marker byte of a fuzzed value to a
// priority; few distinct priorities make ties likely.
var roundTripPriorities = [8]uint32{0, 1, 2, 3, 7, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF}

type addedValue struct {
	Value
	seq int // insertion order
}

// parsePairs decodes a fuzz input for FuzzIndexRoundTrip: NUL-separated
// fields taken as key, value, key, value...; a value whose first byte has
// the high bit set takes its priority from that byte (which is dropped).
// The strings may hold bytes that Add must reject.
func parsePairs(data []byte) [][3]string {
	fields := bytes.Split(data, []byte{0})
	var out [][3]string
	for i := 0; i+1 < len(fields); i += 2 {
		key, val := fields[i], fields[i+1]
		prio := "\x00"
		if len(val) > 0 && val[0] >= 0x80 {
			prio, val = string(val[:1]), val[1:]
		}
		out = append(out, [3]string{string(key), string(val), prio})
	}
	return out
}

func valid7bit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// searchFinds reports whether Search(q), for a query q without wildcard
// characters, returns the values of key k. Like libkmod, Search follows
// q through the trie byte by byte: a key without wildcards is found when
// it equals q (fnmatch is not consulted, so `\` finds `\`), and a key
// whose first wildcard is at p is found when it starts with q[:p] and
// fnmatch matches k[p:] against q[p:]. (A query holding wildcards also
// walks into wildcard children literally and may find a key twice.)
func searchFinds(k, q string) bool {
	p := strings.IndexAny(k, "*?[")
	if p < 0 {
		return k == q
	}
	return strings.HasPrefix(q, k[:p]) && fnmatch.Match(k[p:], q[p:])
}

// FuzzIndexRoundTrip builds an index from fuzzed pairs and checks it
// against a model: Keys returns exactly what was added, in dump order;
// values of a key are sorted by priority with ties in the documented
// order; Lookup returns the first of them; Search returns the values of
// exactly the keys libkmod's wildcard search finds for the query.
func FuzzIndexRoundTrip(f *testing.F) {
	f.Add([]byte("a\x00x\x00ab\x00y\x00abc\x00z\x00b\x00w"), "ab")
	f.Add([]byte("k\x00\x81one\x00k\x00\x80zero\x00k\x00\x81two\x00k\x00\x80nil"), "k")
	f.Add([]byte("pci:v*d*\x00a\x00pci:v0000*\x00b\x00pci:v00001234d1\x00c\x00usb:v[0-9]p\x00d"), "pci:v00001234d1")
	f.Add([]byte("\x00root\x00a?\x00q\x00a\\*\x00esc\x00[\x00br"), "a*")

	f.Fuzz(func(t *testing.T, data []byte, query string) {
		withDeadline(t, func() {
			if i := strings.IndexByte(query, 0); i >= 0 {
				query = query[:i] // a C caller cannot pass more
			}
			var b Builder
			byKey := map[string][]addedValue{}
			added := map[Value]bool{}
			seq := 0
			for _, p := range parsePairs(data) {
				key, val, prio := p[0], p[1], roundTripPriorities[p[2][0]&7]
				err := b.Add(key, val, prio)
				if valid := valid7bit(key) && valid7bit(val); valid != (err == nil) {
					failf("Add(%q, %q): error %v, but the strings are valid=%v", key, val, err, valid)
				}
				if err == nil {
					byKey[key] = append(byKey[key], addedValue{Value{Value: val, Priority: prio}, seq})
					added[Value{Value: val, Priority: prio}] = true
					seq++
				}
			}
			if b.Len() != seq {
				failf("Len() = %d after %d successful adds", b.Len(), seq)
			}
			data1, err := b.Bytes()
			if err != nil {
				failf("Bytes: %v", err)
			}
			data2, err := b.Bytes()
			if err != nil || !bytes.Equal(data1, data2) {
				failf("a second Bytes call gave a different result (err %v)", err)
			}
			if seq == 0 && len(data1) != headerSize {
				failf("empty builder wrote %d bytes", len(data1))
			}
			x, err := New(data1)
			if err != nil {
				failf("New on the builder's output: %v", err)
			}

			keys := make([]string, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			slices.Sort(keys)

			// want returns the values of key in the order o reads them:
			// sorted by priority, ties newest first as depmod stores them,
			// or oldest first after libkmod's re-insertion.
			want := func(key string, o Order) []Value {
				vs := slices.Clone(byKey[key])
				slices.SortStableFunc(vs, func(a, b addedValue) int {
					if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
						return c
					}
					if o == StoredOrder {
						return cmp.Compare(b.seq, a.seq)
					}
					return cmp.Compare(a.seq, b.seq)
				})
				out := make([]Value, len(vs))
				for i, v := range vs {
					out[i] = v.Value
				}
				return out
			}

			for _, o := range []Order{StoredOrder, ReinsertOrder} {
				x.SetOrder(o)

				// Walk: every key once, in byte order, with its values.
				var gotKeys []string
				got := map[string][]Value{}
				x.Walk(func(key string, v Value) {
					if len(gotKeys) == 0 || gotKeys[len(gotKeys)-1] != key {
						gotKeys = append(gotKeys, key)
					}
					got[key] = append(got[key], v)
				})
				if !slices.Equal(gotKeys, keys) {
					failf("order %d: Walk visited keys %q, want %q", o, gotKeys, keys)
				}
				for _, k := range keys {
					if w := want(k, o); !slices.Equal(got[k], w) {
						failf("order %d: values of %q are %v, want %v", o, k, got[k], w)
					}
				}

				// Keys: exactly the added pairs.
				kv := x.Keys()
				if len(kv) != seq {
					failf("order %d: Keys() has %d entries, %d were added", o, len(kv), seq)
				}
				count := map[KeyValue]int{}
				for _, e := range kv {
					count[e]++
				}
				for k, vs := range byKey {
					for _, v := range vs {
						count[KeyValue{k, v.Value.Value}]--
					}
				}
				for e, n := range count {
					if n != 0 {
						failf("order %d: Keys() holds %q→%q %+d times more than added", o, e.Key, e.Value, n)
					}
				}

				var dump bytes.Buffer
				if err := x.Dump(&dump, "p "); err != nil {
					failf("%v", err)
				}
				if n := bytes.Count(dump.Bytes(), []byte("\n")); n < seq {
					failf("order %d: Dump wrote %d lines for %d values", o, n, seq)
				}

				// Lookup: the first value in read order, which has the
				// lowest priority of the key's values.
				for _, k := range keys {
					w := want(k, o)
					v, ok := x.Lookup(k)
					if !ok || v != w[0].Value {
						failf("order %d: Lookup(%q) = %q, %v; want %q (lowest priority %d)", o, k, v, ok, w[0].Value, w[0].Priority)
					}
					for _, probe := range []string{k + "\x01", k[:max(len(k)-1, 0)]} {
						if _, isKey := byKey[probe]; isKey || probe == k {
							continue
						}
						if v, ok := x.Lookup(probe); ok {
							failf("order %d: Lookup(%q) = %q for a key never added", o, probe, v)
						}
					}
				}

				// Search of a literal key finds all its values.
				for _, k := range keys {
					if strings.ContainsAny(k, `*?[\`) {
						continue
					}
					res := x.Search(k)
					if missing := subtract(byKey[k], res); len(missing) > 0 {
						failf("order %d: Search(%q) = %v misses %v", o, k, res, missing)
					}
				}

				// Search of a query without wildcards returns the values
				// of exactly the keys that libkmod's rules find; any query
				// returns values that were added, ordered by priority.
				queries := []string{query}
				for _, k := range keys {
					if !strings.ContainsAny(k, "*?[") {
						queries = append(queries, k)
					}
				}
				for _, q := range queries {
					res := x.Search(q)
					for i := 1; i < len(res); i++ {
						if res[i].Priority < res[i-1].Priority {
							failf("order %d: Search(%q) is not ordered by priority: %v", o, q, res)
						}
					}
					if strings.ContainsAny(q, "*?[") {
						for _, r := range res {
							if !added[r] {
								failf("order %d: Search(%q) returned %v, which was never added", o, q, r)
							}
						}
						continue
					}
					var match []addedValue
					for _, k := range keys {
						if searchFinds(k, q) {
							match = append(match, byKey[k]...)
						}
					}
					if missing := subtract(match, res); len(missing) > 0 || len(res) != len(match) {
						failf("order %d: Search(%q) = %v; want the %d values of the keys it finds (missing %v)", o, q, res, len(match), missing)
					}
				}
			}
		})
	})
}

// subtract returns the values of want that got lacks, as multisets.
func subtract(want []addedValue, got []Value) []Value {
	n := map[Value]int{}
	for _, v := range got {
		n[v]++
	}
	var missing []Value
	for _, v := range want {
		if n[v.Value] > 0 {
			n[v.Value]--
		} else {
			missing = append(missing, v.Value)
		}
	}
	return missing
}

// checkBuilt checks a builder that a text parser returned: its bytes must
// read back as an index holding exactly b.Len() values, each found by
// Lookup under its key.
func checkBuilt(b *Builder) *Index {
	if b == nil {
		failf("nil builder")
	}
	data, err := b.Bytes()
	if err != nil {
		failf("Bytes: %v", err)
	}
	x, err := New(data)
	if err != nil {
		failf("New on the built index: %v", err)
	}
	kv := x.Keys()
	if len(kv) != b.Len() {
		failf("index holds %d values, the builder took %d", len(kv), b.Len())
	}
	for _, e := range kv {
		if _, ok := x.Lookup(e.Key); !ok {
			failf("Lookup(%q) found nothing", e.Key)
		}
	}
	return x
}

// checkBad checks the skipped-line reports of a text parser.
func checkBad(bad []error, file string, withLine bool) {
	for _, e := range bad {
		var pe *ParseError
		if !errors.As(e, &pe) {
			failf("report %v is %T, not a *ParseError", e, e)
		}
		if pe.File != file || pe.Msg == "" || (withLine && pe.Line < 1) {
			failf("bad report %#v", pe)
		}
	}
}

// FuzzBuildDep parses arbitrary text as modules.dep.
func FuzzBuildDep(f *testing.F) {
	f.Add([]byte("kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz kernel/fs/mbcache.ko.xz\nkernel/fs/jbd2/jbd2.ko.xz:\n"))
	f.Add([]byte("# comment\n\nno colon\n/: x\nkernel/a-b.ko:\nkernel/a_b.ko: dup\n\xffé.ko:"))
	f.Fuzz(func(t *testing.T, data []byte) {
		withDeadline(t, func() {
			b, prio, bad, err := BuildDep(bytes.NewReader(data), "modules.dep")
			if err != nil {
				failf("BuildDep: %v", err)
			}
			checkBad(bad, "modules.dep", true)
			// Text in memory (how a Set reads modules.dep) is split the
			// same way as a stream.
			mb, mprio, mbad, err := BuildDep(newTextReader(string(data)), "modules.dep")
			if err != nil || !maps.Equal(mprio, prio) || len(mbad) != len(bad) {
				failf("BuildDep of the text in memory differs from the stream (%v)", err)
			}
			got, err1 := mb.Bytes()
			want, err2 := b.Bytes()
			if (err1 == nil) != (err2 == nil) || !bytes.Equal(got, want) {
				failf("the index of the text in memory differs from the stream's (%v, %v)", err1, err2)
			}
			x := checkBuilt(b)
			x.Walk(func(key string, v Value) {
				if key == "" || strings.ContainsAny(key, "-./") {
					failf("key %q is not a module name", key)
				}
				path, _, ok := strings.Cut(v.Value, ":")
				if !ok || strings.Contains(v.Value, "\n") {
					failf("value %q of %q is not a modules.dep line", v.Value, key)
				}
				if name := modnameFromPath(path); name != key {
					failf("line %q stored under %q, not its module name %q", v.Value, key, name)
				}
				if _, ok := prio[key]; !ok {
					failf("module %q has no priority", key)
				}
			})
			seen := map[uint32]bool{}
			for name, p := range prio {
				if int(p) >= len(prio) || seen[p] {
					failf("priority %d of %q is out of range or shared (%d modules)", p, name, len(prio))
				}
				seen[p] = true
			}
		})
	})
}

// modnameFromPath restates modname.FromPath for the check above: the
// base name up to its first '.' or NUL, at most PATH_MAX-1 bytes of it (as
// kmod's modname_normalize copies into a PATH_MAX buffer), '-' as '_'.
func modnameFromPath(p string) string {
	if p == "" || strings.HasSuffix(p, "/") {
		return ""
	}
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.IndexAny(p, ".\x00"); i >= 0 {
		p = p[:i]
	}
	if len(p) > modname.MaxLen {
		p = p[:modname.MaxLen]
	}
	return strings.ReplaceAll(p, "-", "_")
}

// fuzzPriorities are the priorities FuzzBuildAlias resolves modules with.
var fuzzPriorities = Priorities{"e1000e": 0, "ext4": 1, "snd_hda_intel": 2, "usbcore": 3}

// FuzzBuildAlias parses arbitrary text as modules.alias (normalize) or
// modules.symbols.
func FuzzBuildAlias(f *testing.F) {
	f.Add([]byte("alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\nalias fs-ext4 ext4\n"), true)
	f.Add([]byte("alias symbol:jbd2_journal_start jbd2\nalias symbol:usb_register_driver usbcore\n"), false)
	f.Add([]byte("alias usb:v[0-9-]-x usbcore\nalias a]- x\nalias [- y\nalias  z\nalias x \nfoo\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, normalize bool) {
		withDeadline(t, func() {
			b, bad, err := BuildAlias(bytes.NewReader(data), "modules.alias", fuzzPriorities, normalize)
			if err != nil {
				failf("BuildAlias: %v", err)
			}
			checkBad(bad, "modules.alias", true)
			x := checkBuilt(b)
			x.Walk(func(key string, v Value) {
				if normalize && !modname.IsUnderscored(key) {
					failf("alias %q is not normalized", key)
				}
				if v.Value == "" || strings.ContainsAny(v.Value, " \n") {
					failf("module %q of alias %q is not one field", v.Value, key)
				}
				if p := fuzzPriorities.of(v.Value); v.Priority != p {
					failf("module %q stored with priority %d, want %d", v.Value, v.Priority, p)
				}
			})
		})
	})
}

// FuzzBuildBuiltin parses arbitrary text as modules.builtin.
func FuzzBuildBuiltin(f *testing.F) {
	f.Add([]byte("kernel/fs/ext4/ext4.ko\nkernel/drivers/tty/serial/8250/8250.ko\n"))
	f.Add([]byte("\n/abs.ko\nkernel/\nkernel/a-b.ko\n1x.ko\nkernel/\x80.ko"))
	f.Fuzz(func(t *testing.T, data []byte) {
		withDeadline(t, func() {
			b, bad, err := BuildBuiltin(bytes.NewReader(data), "modules.builtin")
			if err != nil {
				failf("BuildBuiltin: %v", err)
			}
			checkBad(bad, "modules.builtin", true)
			x := checkBuilt(b)
			x.Walk(func(key string, v Value) {
				if strings.ContainsAny(key, "-./") || v.Value != "" || v.Priority != 0 {
					failf("entry %q→%q (%d) is not a builtin module name", key, v.Value, v.Priority)
				}
			})
		})
	})
}

// FuzzBuildBuiltinAlias parses arbitrary bytes as modules.builtin.modinfo.
func FuzzBuildBuiltinAlias(f *testing.F) {
	f.Add([]byte("ext4.alias=fs-ext4\x00ext4.alias=ext3\x00ext4.license=GPL\x00crc32c_generic.alias=crypto-crc32c\x00"))
	f.Add([]byte("noequals\x00a.alias=x\x00.alias=y\x00b.alias=\x00c.alias=[-\x00d.alias=a]-\x00e.alias=tail"))
	f.Fuzz(func(t *testing.T, data []byte) {
		withDeadline(t, func() {
			b, bad, err := BuildBuiltinAlias(bytes.NewReader(data), "modules.builtin.modinfo")
			if err != nil {
				failf("BuildBuiltinAlias: %v", err)
			}
			checkBad(bad, "modules.builtin.modinfo", false)
			x := checkBuilt(b)
			x.Walk(func(key string, v Value) {
				if !modname.IsUnderscored(key) {
					failf("alias %q is not normalized", key)
				}
				if v.Value == "" || strings.ContainsAny(v.Value, ".\x00") || v.Priority != 0 {
					failf("module %q (priority %d) of alias %q is not a module name", v.Value, v.Priority, key)
				}
			})
		})
	})
}
