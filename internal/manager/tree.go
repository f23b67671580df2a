package manager

import (
	"errors"
	"fmt"
	"syscall"

	"go.uber.org/zap"

	"github.com/procd/procd/internal/proc"
	"github.com/procd/procd/internal/procattr"
)

// A process's tree is its cgroup when procd contains trees in cgroups
// (every descendant, setsid escapees included), else its process group
// (descendants that left the group are out of reach). These helpers are
// the only places that tell the two apart.

// treeMembers lists the live processes of r's tree besides an exited leader.
func (m *Manager) treeMembers(r *record) []int {
	if r.cg != nil {
		pids, _ := r.cg.Pids()
		return pids
	}
	return m.rt.GroupMembers(r.pgid)
}

// treeEmpty reports whether no process of r's tree is alive (r's leader
// must have exited). A cgroup that cannot be read counts as populated, so
// the leader is not reaped (and its group number freed) on a guess.
func (m *Manager) treeEmpty(r *record) bool {
	if r.cg != nil {
		var populated bool
		err := m.withFDs(func() (err error) {
			populated, err = r.cg.PopulatedErr()
			return err
		})
		return err == nil && !populated
	}
	return len(m.rt.GroupMembers(r.pgid)) == 0
}

// signalTree sends sig to every process of r's tree and says what it
// reached. With a cgroup the leader comes first, through the pidfd procd
// holds (one syscall: the common one-process tree starts dying before the
// cgroup is even listed; leaderSent: the caller did that already), then
// the other members; SIGKILL to the rest is
// one write to cgroup.kill. Should the cgroup be out of reach (procd out
// of descriptors even after giving back its reserve), the process group
// is signalled instead, which needs none (and which the leader is in: it
// gets sig twice on that rare path): escapees wait for the cgroup's
// removal, but the leader's group does not outlive a stop.
func (m *Manager) signalTree(r *record, sig syscall.Signal, leaderSent bool) (string, error) {
	if r.cg == nil {
		return fmt.Sprintf("group %d", r.pgid), r.p.SignalGroup(sig)
	}
	r.cgMu.RLock()
	defer r.cgMu.RUnlock()
	if r.cgGone {
		return "cgroup " + r.cg.Name(), proc.ErrProcessDone // the tree is gone; the cgroup may be another's now
	}
	target := "cgroup " + r.cg.Name()
	n := 0
	if leaderSent || !isClosed(r.exited) && r.p.Signal(sig) == nil { // a zombie leader is not counted
		n++
	}
	err := m.withFDs(func() error {
		if sig == syscall.SIGKILL {
			return r.cg.Kill()
		}
		others, err := r.cg.Signal(sig, r.pid)
		n += others
		return err
	})
	if err != nil && !isDone(err) {
		gerr := r.p.SignalGroup(sig)
		if gerr != nil && !isDone(gerr) {
			return target, errors.Join(err, gerr)
		}
		m.log.Warn("cgroup unreachable; signalled the process group instead", zap.String("process-id", r.id),
			zap.String("cgroup", r.cg.Name()), zap.String("signal", procattr.SignalName(sig)), zap.Error(err))
		return fmt.Sprintf("group %d (cgroup %s unreachable: %v)", r.pgid, r.cg.Name(), err), gerr
	}
	if sig == syscall.SIGKILL {
		return target, err
	}
	if err == nil && n == 0 {
		err = proc.ErrProcessDone
	}
	return fmt.Sprintf("%s (%d processes)", target, n), err
}

// isDone reports whether err says the target was already gone.
func isDone(err error) bool { return errors.Is(err, proc.ErrProcessDone) }
