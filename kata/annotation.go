package kata

import (
	"fmt"
	"strings"

	"github.com/gokmod/modprobe"
)

// Annotation is the OCI annotation whose value lists kernel modules for
// the sandbox, elements separated by ";".
const Annotation = "io.katacontainers.config.agent.kernel_modules"

// ParseAnnotation reads the value of the kernel_modules annotation: the
// elements separated by ";", each read by ParseElement; empty elements
// are skipped.
func ParseAnnotation(value string) ([]modprobe.Request, error) {
	source := "annotation " + Annotation
	elems := strings.SplitN(value, ";", MaxElements+1)
	if len(elems) > MaxElements {
		return nil, &ParseError{Source: source, Index: -1, Err: fmt.Errorf("%w: more than %d elements", ErrTooLarge, MaxElements)}
	}
	return parseList(source, elems)
}
