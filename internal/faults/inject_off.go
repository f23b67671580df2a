//go:build !faults

package faults

import (
	"errors"
	"time"
)

// Enabled reports whether this binary was built with fault injection.
const Enabled = false

// Injector is an alias of the empty struct without the faults build tag, so
// that not even a type of this package is left in a release binary.
type Injector = struct{}

// Parse accepts only an empty spec: a release binary refuses PROCD_FAULT
// rather than pretend to honour it.
func Parse(spec string) (*Injector, error) {
	if spec == "" {
		return nil, nil
	}
	return nil, errors.New("PROCD_FAULT is set, but this procd was built without fault injection (only test builds with -tags faults have it); unset PROCD_FAULT")
}

// Point does nothing; the compiler removes its calls.
func Point(*Injector, string) {}

// LogWriteDelay is 0: nothing is slowed.
func LogWriteDelay(*Injector) time.Duration { return 0 }
