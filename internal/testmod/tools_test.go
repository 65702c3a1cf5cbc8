package testmod_test

import (
	"fmt"
	"testing"

	"github.com/gokmod/modprobe/internal/testmod"
)

// recordingTB records how RequireTool gives up instead of stopping the test.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper()                           {}
func (r *recordingTB) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recordingTB) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestRequireToolFailsOnlyInCI(t *testing.T) {
	const missing = "testmod-no-such-tool"
	t.Setenv("CI", "true")
	r := &recordingTB{TB: t}
	if p := testmod.RequireTool(r, missing); p != "" || r.fatal == "" || r.skip != "" {
		t.Errorf("CI=true: path %q fatal %q skip %q; want a failure", p, r.fatal, r.skip)
	}
	t.Setenv("CI", "")
	r = &recordingTB{TB: t}
	if p := testmod.RequireTool(r, missing); p != "" || r.fatal != "" || r.skip == "" {
		t.Errorf("CI unset: path %q fatal %q skip %q; want a skip", p, r.fatal, r.skip)
	}
	if _, err := testmod.FindTool(missing); err == nil {
		t.Errorf("FindTool found %s", missing)
	}
}
