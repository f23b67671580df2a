//go:build linux

package manager

import "github.com/procd/procd/internal/testutil"

// The names these helpers had before internal/testutil, kept so branches
// written against them still build; new tests call testutil directly.
//
//lint:ignore U1000 kept until the branches that use the old name have landed
var ctxFor = testutil.Context

//lint:ignore U1000 kept until the branches that use the old name have landed
var waitFor = testutil.WaitFor

//lint:ignore U1000 kept until the branches that use the old name have landed
var waitUntil = testutil.WaitFor

//lint:ignore U1000 kept until the branches that use the old name have landed
var assertNoZombies = testutil.AssertNoZombies
