package server_test

import "github.com/procd/procd/internal/testutil"

// The names these helpers had before internal/testutil, kept so branches
// written against them still build; new tests call testutil directly.
//lint:ignore U1000 kept until the branches that use the old names have landed
var (
	ctxFor          = testutil.Context
	waitFor         = testutil.WaitFor
	assertNoZombies = testutil.AssertNoZombies
)
