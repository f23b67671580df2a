//go:build linux

package integration

import "github.com/procd/procd/internal/testutil"

// The name this helper had before internal/testutil, kept so branches
// written against it still build; new tests call testutil directly.
//
//lint:ignore U1000 kept until the branches that use the old names have landed
var eventually = testutil.WaitFor
