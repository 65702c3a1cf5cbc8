package modprobe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/modprobe"
)

func removed(lt *loadTree) []string {
	var names []string
	for _, r := range lt.K.Removes() {
		if r.Err == nil {
			names = append(names, r.Module)
		}
	}
	return names
}

func TestRemoveChain(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	if err := l.Load(ctx, "mod-dash"); err != nil {
		t.Fatal(err)
	}
	var shown []string
	err := l.RemoveWith(ctx, []string{"mod-dash"}, modprobe.RemoveOptions{Show: func(a modprobe.Action) { shown = append(shown, a.String()) }})
	if err != nil {
		t.Fatal(err)
	}
	// kmod's single pass over the dependencies, deepest first: a and b
	// are still held when visited, c is free once mod_dash is gone.
	if got, want := removed(lt), []string{"mod_dash", "c"}; !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if got, want := shown, []string{"rmmod mod_dash", "rmmod c"}; !slices.Equal(got, want) {
		t.Errorf("shown %v, want %v", got, want)
	}
	if got := lt.K.Loaded(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("loaded %v", got)
	}
	for _, r := range lt.K.Removes() {
		if r.Flags != modprobe.DeleteNonblock {
			t.Errorf("delete_module flags %#x, want O_NONBLOCK only", r.Flags)
		}
	}
	// not loaded: success, unless first-time
	if err := l.Remove(ctx, "mod_dash"); err != nil {
		t.Errorf("removing a module that is not loaded: %v", err)
	}
	err = l.RemoveWith(ctx, []string{"mod_dash"}, modprobe.RemoveOptions{FirstTime: true})
	if !errors.Is(err, modprobe.ErrNotLoaded) {
		t.Errorf("first-time removal of a module that is not loaded: %v", err)
	}
}

func TestRemoveRefusals(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	if err := l.Remove(ctx, "bi"); !errors.Is(err, modprobe.ErrBuiltin) {
		t.Errorf("builtin: %v", err)
	}
	if err := l.Remove(ctx, "nosuch"); !errors.Is(err, modprobe.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	if err := l.Load(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	err := l.Remove(ctx, "a")
	if !errors.Is(err, modprobe.ErrInUse) || !errors.Is(err, syscall.EBUSY) {
		t.Errorf("a module with a holder: %v", err)
	}
	// a's holder b goes first, and a with it in b's dependency pass; a
	// is then deleted again and the kernel's ENOENT fails the removal, as
	// in kmod 34.2.
	var reported []error
	err = l.RemoveWith(ctx, []string{"a"}, modprobe.RemoveOptions{RemoveHolders: true, Report: func(err error) { reported = append(reported, err) }})
	var me *modprobe.ModuleError
	if !errors.Is(err, syscall.ENOENT) || !errors.As(err, &me) || me.Module != "a" || me.Op != "delete" || len(reported) != 1 {
		t.Fatalf("--remove-holders: %v %v, want a delete error for a wrapping ENOENT", err, reported)
	}
	if got := lt.K.Loaded(); len(got) != 0 {
		t.Errorf("loaded %v after removing a with its holders", got)
	}
	st, err := l.State("a")
	if err != nil || st.State != modprobe.StateNotLoaded {
		t.Errorf("State(a) = %+v, %v", st, err)
	}
}

func TestRemoveWait(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	if err := l.Load(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := lt.K.Use("x"); err != nil {
		t.Fatal(err)
	}
	st, err := l.State("x")
	if err != nil || st.State != modprobe.StateLive || st.Refcnt != 1 {
		t.Fatalf("State(x) = %+v, %v", st, err)
	}
	err = l.RemoveWith(ctx, []string{"x"}, modprobe.RemoveOptions{Wait: 20 * time.Millisecond})
	if !errors.Is(err, modprobe.ErrInUse) || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("--wait timing out: %v", err)
	}
	n := len(lt.K.Removes())
	if n < 3 {
		t.Errorf("%d delete_module calls in 20ms of backoff, want several", n)
	}
	done := make(chan error)
	go func() {
		done <- l.RemoveWith(ctx, []string{"x"}, modprobe.RemoveOptions{Wait: time.Minute})
	}()
	for len(lt.K.Removes()) == n {
		time.Sleep(time.Millisecond)
	}
	if err := lt.K.Unuse("x"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("--wait once the module is free: %v", err)
	}
	if lt.K.IsLive("x") {
		t.Error("x still live")
	}
}

func TestRemoveSoftdepsAndCommands(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	lt := newLoadTree(t, withFiles(map[string]string{
		"conf/r.conf": "remove p echo removing $MODPROBE_MODULE >" + out + "\n",
	}), stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	if err := l.LoadAll(ctx, "soft", "p"); err != nil {
		t.Fatal(err)
	}
	if got := lt.K.Loaded(); !slices.Equal(got, []string{"x", "soft", "p"}) {
		t.Fatalf("loaded %v", got)
	}
	if err := l.Remove(ctx, "soft", "p"); err != nil {
		t.Fatal(err)
	}
	if got := removed(lt); !slices.Equal(got, []string{"soft", "x"}) {
		t.Errorf("removed %v: soft, then its pre softdep", got)
	}
	if b, _ := os.ReadFile(out); string(b) != "removing p\n" {
		t.Errorf("remove command wrote %q", b)
	}
	if !lt.K.IsLive("p") {
		t.Error("a remove command replaces the removal")
	}
}

func TestRemoveModuleAsRmmod(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()
	if err := l.RemoveModule(ctx, "x", modprobe.RemoveOptions{}); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("removing a module that is not loaded: %v", err)
	}
	if err := l.Load(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := l.RemoveModule(ctx, "a", modprobe.RemoveOptions{}); !errors.Is(err, syscall.EWOULDBLOCK) || !errors.Is(err, modprobe.ErrInUse) {
		t.Errorf("removing a held module: %v", err)
	}
	if err := l.RemoveModule(ctx, "b", modprobe.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := lt.K.Loaded(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("loaded %v: rmmod removes one module, no dependencies", got)
	}
}
