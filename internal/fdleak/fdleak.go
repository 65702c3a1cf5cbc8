// Package fdleak makes a test binary fail when its tests leave file
// descriptors open: a package that opens module files uses it from its
// TestMain.
//
//	func TestMain(m *testing.M) { os.Exit(fdleak.Main(m)) }
package fdleak

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Main runs the tests and returns their exit status, or 1 when a file
// descriptor opened during the run is still open after it. Descriptors of
// the Go runtime's own (the network poller's epoll and eventfd, which it
// keeps for the life of the process) are not counted.
func Main(m *testing.M) int {
	before, err := open()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fdleak: %v\n", err)
		return 1
	}
	code := m.Run()
	// A child process's pipes are closed by the goroutines that wait for
	// it; give them a moment.
	var leaked []string
	for range 50 {
		leaked = leaks(before)
		if len(leaked) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "fdleak: %d file descriptors left open by the tests:\n\t%s\n", len(leaked), strings.Join(leaked, "\n\t"))
		if code == 0 {
			code = 1
		}
	}
	return code
}

// leaks returns the descriptors open now that were not in before, as
// "FD -> TARGET".
func leaks(before map[int]string) []string {
	after, err := open()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for fd, target := range after {
		if old, ok := before[fd]; ok && old == target {
			continue
		}
		if strings.HasPrefix(target, "anon_inode:") {
			continue
		}
		out = append(out, strconv.Itoa(fd)+" -> "+target)
	}
	sort.Strings(out)
	return out
}

// open returns the process's open descriptors and what they refer to.
func open() (map[int]string, error) {
	// Not an input: procfs's directory of this process's descriptors.
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	self := int(d.Fd())
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	fds := map[int]string{}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd == self {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + n)
		if err != nil {
			continue // closed meanwhile
		}
		fds[fd] = target
	}
	return fds, nil
}
