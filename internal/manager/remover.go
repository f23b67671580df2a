package manager

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/cgroup"
)

// remover deletes the cgroups of finished trees on its own goroutine, so
// an exit is not delayed by the rmdirs (the kernel may make one wait while
// it tears a cgroup down). The queue holds at most one entry per finished
// process, and the goroutine only runs while there is work.
type remover struct {
	log     *zap.Logger
	mu      sync.Mutex
	queue   []removal
	running bool
	idle    sync.WaitGroup // Wait: everything queued is removed

	quit      chan struct{} // closed by stop: lingering cgroups are left to the guardian and the next sweep
	stopOnce  sync.Once
	lingering sync.WaitGroup
}

// removeWhenEmpty removes cg once the processes left in it (a kill mode
// leader tree's descendants) are gone, checking every second.
func (rm *remover) removeWhenEmpty(id string, cg *cgroup.Group) {
	rm.lingering.Go(func() {
		for !cg.WaitEmpty(time.Second) {
			select {
			case <-rm.quit:
				return
			default:
			}
		}
		rm.remove(id, cg)
	})
}

// stop ends the watches of lingering cgroups and waits for every queued
// removal.
func (rm *remover) stop() {
	rm.stopOnce.Do(func() { close(rm.quit) })
	rm.lingering.Wait()
	rm.idle.Wait()
}

type removal struct {
	id string
	cg *cgroup.Group
}

func (rm *remover) remove(id string, cg *cgroup.Group) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.queue = append(rm.queue, removal{id, cg})
	if !rm.running {
		rm.running = true
		rm.idle.Add(1)
		go rm.run()
	}
}

func (rm *remover) run() {
	defer rm.idle.Done()
	for {
		rm.mu.Lock()
		if len(rm.queue) == 0 {
			rm.running = false
			rm.mu.Unlock()
			return
		}
		next := rm.queue[0]
		rm.queue = rm.queue[1:]
		rm.mu.Unlock()
		if err := next.cg.Remove(); err != nil {
			rm.log.Warn("cannot remove cgroup", zap.String("process-id", next.id), zap.String("cgroup", next.cg.Path()), zap.Error(err))
		}
	}
}

// wait returns once every queued cgroup has been removed.
func (rm *remover) wait() { rm.idle.Wait() }
