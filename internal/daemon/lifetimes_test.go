package daemon

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.uber.org/zap/zaptest"
)

// Components close last started first, each exactly once, whether the
// shutdown closed some of them early or not; a failing close does not
// stop the others.
func TestComponentsCloseInReverseOnce(t *testing.T) {
	cs := components{log: zaptest.NewLogger(t)}
	var closed []string
	add := func(name string, err error) *component {
		return cs.add(name, func(context.Context) error {
			closed = append(closed, name)
			return err
		})
	}
	add("listener", nil)
	add("runtime", errors.New("busy"))
	mgr := add("manager", nil)
	add("server", nil)
	if got := cs.names(); !slices.Equal(got, []string{"listener", "runtime", "manager", "server"}) {
		t.Fatalf("start order %v", got)
	}
	cs.shut(context.Background(), mgr) // the shutdown ends the work first
	cs.closeAll(context.Background())
	cs.closeAll(context.Background()) // a second sweep closes nothing again
	if want := []string{"manager", "server", "runtime", "listener"}; !slices.Equal(closed, want) {
		t.Fatalf("closed %v, want %v", closed, want)
	}
}
