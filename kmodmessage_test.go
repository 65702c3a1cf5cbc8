package modprobe_test

import (
	"context"
	"syscall"
	"testing"

	"github.com/gokmod/modprobe"
	"github.com/stretchr/testify/assert"
)

// TestKmodMessages: the messages modprobe prints for the failures of a
// load, in libkmod's words, naming the requested module.
func TestKmodMessages(t *testing.T) {
	lt := newLoadTree(t, stackTree, stackInfo)
	lt.K.FailInsert("b", syscall.ENOEXEC)
	l := lt.open(t, modprobe.Options{})
	ctx := context.Background()

	err := l.LoadAll(ctx, "mod-dash", "nosuch", "x")
	assert.Equal(t, []string{
		"could not insert 'mod_dash': Exec format error",
		"Module nosuch not found in directory " + l.ModuleDir(),
	}, modprobe.KmodMessages(err))

	err = l.LoadWith(ctx, "x", nil, modprobe.LoadOptions{FirstTime: true})
	assert.Equal(t, []string{"could not insert 'x': Module already in kernel"}, modprobe.KmodMessages(err))
	assert.Equal(t, syscall.EEXIST, modprobe.KmodErrno(err))

	err = l.Load(ctx, "p", "count=x")
	assert.Equal(t, []string{"could not insert 'p': Invalid argument"}, modprobe.KmodMessages(err))
	assert.Nil(t, modprobe.KmodMessages(nil))
}
