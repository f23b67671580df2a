package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration flag that also accepts bare seconds ("30",
// "1.5") as the original API's float seconds did, and "-1" for "never".
type Duration time.Duration

// ParseDuration parses Go syntax ("1.5s", "2m") or bare seconds ("30").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use 1.5s, 2m or bare seconds)", s)
	}
	return d, nil
}

func (d *Duration) String() string { return time.Duration(*d).String() }
func (d *Duration) Type() string   { return "duration" }
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// RestartLimit is a restart policy's limit: at most Count restarts within
// Window ("5/1m"); Count 0 ("0") is no limit.
type RestartLimit struct {
	Count  int
	Window Duration
}

// ParseRestartLimit parses N/WINDOW (the window in ParseDuration's forms),
// or 0 for no limit.
func ParseRestartLimit(s string) (RestartLimit, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "none" {
		return RestartLimit{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 {
		return RestartLimit{}, fmt.Errorf("invalid restart limit %q (use N/WINDOW such as 5/1m, or 0 for none)", s)
	}
	d, err := ParseDuration(w)
	if err != nil || d <= 0 {
		return RestartLimit{}, fmt.Errorf("invalid restart limit %q: the window must be a positive duration", s)
	}
	return RestartLimit{Count: count, Window: Duration(d)}, nil
}

func (l *RestartLimit) String() string {
	if l.Count == 0 {
		return "0"
	}
	return fmt.Sprintf("%d/%v", l.Count, time.Duration(l.Window))
}
func (l *RestartLimit) Type() string { return "n/window" }
func (l *RestartLimit) Set(s string) error {
	v, err := ParseRestartLimit(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Size is a byte count flag accepting units: 65536, 64K, 64KiB, 1M, 1MiB, 1G.
// Units are binary (K = 1024).
type Size int64

// ParseSize parses a byte count with an optional binary unit.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (use bytes or a unit: 64KiB, 1MiB, 1G)", s)
	}
	return v * mult, nil
}

func (z *Size) String() string { return strconv.FormatInt(int64(*z), 10) }
func (z *Size) Type() string   { return "size" }
func (z *Size) Set(s string) error {
	v, err := ParseSize(s)
	if err != nil {
		return err
	}
	*z = Size(v)
	return nil
}
