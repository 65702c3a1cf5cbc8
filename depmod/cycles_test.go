package depmod

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokmod/modprobe/internal/testmod"
)

// cycleTree writes modules named by spec, "name:dep,dep name2 ...": each
// exports NAME_fn and uses DEP_fn of each dep.
func cycleTree(t *testing.T, spec string) string {
	t.Helper()
	var mods []testmod.TreeModule
	for _, m := range strings.Fields(spec) {
		name, deps, _ := strings.Cut(m, ":")
		var uses []string
		for _, d := range strings.Split(deps, ",") {
			if d != "" {
				uses = append(uses, d+"_fn")
			}
		}
		mods = append(mods, tmod("kernel/"+name+".ko", []string{name + "_fn"}, uses))
	}
	return writeTree(t, &testmod.Tree{Modules: mods, OmitOrder: true})
}

// runCycles runs depmod on a tree with cycles and returns its error
// messages, failing the test if it takes longer than limit (kmod itself
// never ends on some of these trees).
func runCycles(t *testing.T, root string, limit time.Duration) []string {
	t.Helper()
	type result struct {
		msgs []string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var msgs []string
		err := Run(t.Context(), Options{BaseDir: root, Release: rel, ConfigPaths: []string{}, DryRun: new(strings.Builder),
			Log: func(l Level, s string) {
				if l <= LevelErr {
					msgs = append(msgs, s)
				}
			}})
		done <- result{msgs, err}
	}()
	select {
	case r := <-done:
		if !errors.Is(r.err, ErrCycles) {
			t.Fatalf("Run: %v, want ErrCycles", r.err)
		}
		return r.msgs
	case <-time.After(limit):
		t.Fatalf("the cycle report did not end within %v", limit)
	}
	return nil
}

// TestCycleReportEnds checks trees on which kmod's cycle search walks
// forever (a path from a root that is in one cycle reaches another
// cycle): gokmod reports the cycles and ends.
func TestCycleReportEnds(t *testing.T) {
	// a <-> b, a -> f -> d <-> e; kmod 30 and 34.2 both loop on it.
	msgs := runCycles(t, cycleTree(t, "a:b,f b:a f:d d:e e:d"), 30*time.Second)
	var cycles []string
	for _, m := range msgs {
		if c, ok := strings.CutPrefix(m, "Cycle detected: "); ok {
			cycles = append(cycles, c)
		}
	}
	if !slices.Contains(cycles, "a -> b -> a") && !slices.Contains(cycles, "b -> a -> b") {
		t.Errorf("the a-b cycle is not reported: %q", msgs)
	}
	if !slices.Contains(cycles, "d -> e -> d") && !slices.Contains(cycles, "e -> d -> e") {
		t.Errorf("the d-e cycle is not reported: %q", msgs)
	}
	if last := msgs[len(msgs)-1]; last != "Found 4 modules in dependency cycles!" {
		t.Errorf("last message %q", last)
	}
}

// TestCycleReportBounded checks a tree with exponentially many paths
// from a cycle (a ladder of diamonds): the search stops at its bound and
// says so, instead of taking years.
func TestCycleReportBounded(t *testing.T) {
	const levels = 30
	spec := "a:b,x0 b:a"
	for i := range levels {
		spec += fmt.Sprintf(" x%d:y%d,z%d y%d:x%d z%d:x%d", i, i, i, i, i+1, i, i+1)
	}
	spec += fmt.Sprintf(" x%d", levels)
	msgs := runCycles(t, cycleTree(t, spec), 60*time.Second)
	want := fmt.Sprintf("Cycle search stopped after %d steps", maxCycleSteps)
	if !slices.Contains(msgs, want) {
		t.Errorf("messages %q, want %q among them", msgs, want)
	}
}
