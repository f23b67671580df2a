// Package errdefs defines the error kinds procd's core packages return.
//
// Core packages wrap these sentinels with context
// (fmt.Errorf("start %q: %w", name, errdefs.ErrNotFound)); the gRPC layer maps
// them to status codes in one place (internal/server) and procctl maps the
// codes back to exit statuses. A message should say what failed, on what, and
// why; the sentinel only says which kind of failure it is.
package errdefs

import "errors"

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
)

// Kind wraps err so that errors.Is(result, kind) holds while the message stays
// err's own. It is for errors that already say everything (an *os.PathError,
// a syscall error) but need a kind for the status mapping.
func Kind(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kinded{kind: kind, err: err}
}

type kinded struct {
	kind error
	err  error
}

func (k *kinded) Error() string { return k.err.Error() }

func (k *kinded) Unwrap() []error { return []error{k.err, k.kind} }
