package daemon

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// component is one started part of the daemon and the way to close it.
type component struct {
	name  string
	close func(context.Context) error
	once  sync.Once
}

// components own what the daemon started (etcd's embed is the model): each
// is recorded as it starts, and closed exactly once, in the reverse of the
// order they started, whether the start failed half-way (New) or the
// daemon is shutting down (Run). Nothing is closed by hand elsewhere, so a
// step added to the start cannot be forgotten on one of the paths.
type components struct {
	log  *zap.Logger
	mu   sync.Mutex
	list []*component
}

// add records a started component; its close runs at most once.
func (cs *components) add(name string, close func(context.Context) error) *component {
	c := &component{name: name, close: close}
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	return c
}

// shut closes c now, if it is not closed yet. The shutdown uses it to end
// the work (listeners, batches, processes) before the reverse-order sweep,
// which then skips what is closed already.
func (cs *components) shut(ctx context.Context, c *component) {
	if c == nil {
		return
	}
	c.once.Do(func() {
		start := time.Now()
		if err := c.close(ctx); err != nil {
			cs.log.Warn("closing "+c.name, zap.Error(err))
			return
		}
		if ce := cs.log.Check(zap.DebugLevel, "closed"); ce != nil {
			ce.Write(zap.String("component", c.name), zap.Duration("took", time.Since(start)))
		}
	})
}

// closeAll closes every component not closed yet, last started first.
func (cs *components) closeAll(ctx context.Context) {
	cs.mu.Lock()
	list := append([]*component(nil), cs.list...)
	cs.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		cs.shut(ctx, list[i])
	}
}

// names lists the components in start order (for tests and logs).
func (cs *components) names() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]string, len(cs.list))
	for i, c := range cs.list {
		out[i] = c.name
	}
	return out
}
