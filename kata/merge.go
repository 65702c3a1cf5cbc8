package kata

import (
	"fmt"

	"github.com/gokmod/modprobe"
)

// Mode is how the annotation's modules combine with the configuration's.
type Mode int

const (
	// Replace uses the annotation's list instead of the configuration's
	// whenever the annotation is present, even empty: Kata's Go runtime.
	Replace Mode = iota
	// Append loads the annotation's modules after the configuration's:
	// Kata's runtime-rs.
	Append
)

// String returns "replace" or "append".
func (m Mode) String() string {
	switch m {
	case Replace:
		return "replace"
	case Append:
		return "append"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads "replace" or "append".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "replace":
		return Replace, nil
	case "append":
		return Append, nil
	}
	return 0, fmt.Errorf("kata: unknown annotation mode %q (want replace or append)", s)
}

// Merge returns the modules to load in a sandbox: the configuration's
// list (from ParseConfig) combined, as mode says, with the
// kernel_modules annotation when annotations holds it. Other annotations
// are ignored.
func Merge(mode Mode, config []modprobe.Request, annotations map[string]string) ([]modprobe.Request, error) {
	value, ok := annotations[Annotation]
	if !ok {
		return config, nil
	}
	ann, err := ParseAnnotation(value)
	if err != nil {
		return nil, err
	}
	switch mode {
	case Replace:
		return ann, nil
	case Append:
		return append(append([]modprobe.Request(nil), config...), ann...), nil
	}
	return nil, fmt.Errorf("kata: unknown annotation mode %v", mode)
}
