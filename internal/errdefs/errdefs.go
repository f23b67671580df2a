// Package errdefs defines the error kinds procd's core packages return.
//
// Core packages create errors of a kind with Errorf and add context with
// fmt.Errorf("start %q: %w", name, err); the gRPC layer maps
// them to status codes in one place (internal/server) and procctl maps the
// codes back to exit statuses. A message should say what failed, on what, and
// why; the sentinel only says which kind of failure it is.
package errdefs

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidArgument: the request is malformed (empty command, bad signal name…).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: no such process, executable or directory.
	ErrNotFound = errors.New("not found")
	// ErrPermissionDenied: the operation is not permitted for this caller or file.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrResourceExhausted: a limit was reached (process count, fork EAGAIN, slow subscriber).
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrFailedPrecondition: the target is in the wrong state for the operation.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrOutOfRange: an event resume point is older than the retained events.
	ErrOutOfRange = errors.New("out of range")
	// ErrUnavailable: the daemon is shutting down.
	ErrUnavailable = errors.New("unavailable")
	// ErrUnimplemented: a feature this platform does not have (terminals,
	// cgroups and rlimits off Linux).
	ErrUnimplemented = errors.New("unimplemented")
)

// Errorf formats an error of the given kind: errors.Is(err, kind) holds, and
// the message is only the formatted text (the kind's own words, such as
// "not found", are not prepended). %w in format wraps as in fmt.Errorf.
func Errorf(kind error, format string, args ...any) error {
	return &kinded{kind: kind, err: fmt.Errorf(format, args...)}
}

type kinded struct {
	kind error
	err  error
}

func (k *kinded) Error() string { return k.err.Error() }

func (k *kinded) Unwrap() []error { return []error{k.err, k.kind} }
