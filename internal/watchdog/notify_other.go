//go:build !linux

package watchdog

import "errors"

// NotifyListener is only available on Linux, where SO_PASSCRED identifies
// senders.
type NotifyListener struct{}

// ListenNotify fails off Linux.
func ListenNotify(string, func(int, []byte) bool) (*NotifyListener, error) {
	return nil, errors.New("the notify socket needs Linux (SO_PASSCRED)")
}

// Path is empty.
func (l *NotifyListener) Path() string { return "" }

// Stats are zero.
func (l *NotifyListener) Stats() (accepted, rejected int64) { return 0, 0 }

// Close does nothing.
func (l *NotifyListener) Close() error { return nil }
