// Package archtest holds no code: its test enforces the floors and the
// forbidden arrows that ARCHITECTURE.md describes, reading them from that
// file (tailscale's deps-test idea, with go list in place of depaware),
// and the size limits: a file over 500 lines or a function over 80 carries
// a one-line reason at its top.
package archtest
