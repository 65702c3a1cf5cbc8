package kata

import (
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
	return parseList("annotation "+Annotation, strings.Split(value, ";"))
}
