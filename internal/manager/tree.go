package manager

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/procd/procd/internal/proc"
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
// must have exited).
func (m *Manager) treeEmpty(r *record) bool {
	if r.cg != nil {
		return !r.cg.Populated()
	}
	return len(m.rt.GroupMembers(r.pgid)) == 0
}

// signalTree sends sig to every process of r's tree and says what it
// reached. SIGKILL to a cgroup is one write to cgroup.kill.
func (m *Manager) signalTree(r *record, sig syscall.Signal) (string, error) {
	if r.cg == nil {
		return fmt.Sprintf("group %d", r.pgid), r.p.SignalGroup(sig)
	}
	target := "cgroup " + r.cg.Name()
	if sig == syscall.SIGKILL {
		return target, r.cg.Kill()
	}
	n, err := r.cg.Signal(sig)
	if err == nil && n == 0 {
		err = proc.ErrProcessDone
	}
	return fmt.Sprintf("%s (%d processes)", target, n), err
}

// isDone reports whether err says the target was already gone.
func isDone(err error) bool { return errors.Is(err, proc.ErrProcessDone) }
