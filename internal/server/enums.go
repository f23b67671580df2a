package server

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/procd/procd/internal/events"
	"github.com/procd/procd/internal/executor"
	"github.com/procd/procd/internal/manager"
	"github.com/procd/procd/internal/watchdog"
	pb "github.com/procd/procd/proto/procd/v1"
)

// The core's enums are numbered for the core's convenience, not the wire's:
// every conversion goes through one of the tables below, never a cast.
// enums_test.go walks every value of every proto enum (from its
// descriptor) and every constant of each core enum type, and fails when
// one has no counterpart.

// protoEnum is a generated enum type.
type protoEnum interface {
	~int32
	Descriptor() protoreflect.EnumDescriptor
}

// enumMap is a one-to-one mapping between a core enum and a proto enum.
// The proto's zero value (UNSPECIFIED) has no core counterpart.
type enumMap[C comparable, P protoEnum] struct {
	toProto   map[C]P
	fromProto map[P]C
}

func newEnumMap[C comparable, P protoEnum](pairs map[C]P) enumMap[C, P] {
	m := enumMap[C, P]{toProto: pairs, fromProto: make(map[P]C, len(pairs))}
	for c, p := range pairs {
		if _, dup := m.fromProto[p]; dup || p == 0 {
			panic(fmt.Sprintf("enum table %s: %v is mapped twice or is UNSPECIFIED", p.Descriptor().FullName(), p))
		}
		m.fromProto[p] = c
	}
	return m
}

// proto converts a core value; one without a counterpart (which the test
// rules out) is UNSPECIFIED.
func (m enumMap[C, P]) proto(c C) P { return m.toProto[c] }

// core converts a proto value; false for UNSPECIFIED and unknown numbers.
func (m enumMap[C, P]) core(p P) (C, bool) {
	c, ok := m.fromProto[p]
	return c, ok
}

var (
	processStates = newEnumMap(map[manager.State]pb.ProcessState{
		manager.Running:  pb.ProcessState_PROCESS_STATE_RUNNING,
		manager.Stopping: pb.ProcessState_PROCESS_STATE_STOPPING,
		manager.Exited:   pb.ProcessState_PROCESS_STATE_EXITED,
		manager.Starting: pb.ProcessState_PROCESS_STATE_STARTING,
		manager.Backoff:  pb.ProcessState_PROCESS_STATE_BACKOFF,
		manager.Failed:   pb.ProcessState_PROCESS_STATE_FAILED,
		manager.Lost:     pb.ProcessState_PROCESS_STATE_LOST,
	})
	exitReasons = newEnumMap(map[manager.Reason]pb.ExitReason{
		manager.ReasonExited:         pb.ExitReason_EXIT_REASON_EXITED,
		manager.ReasonStopped:        pb.ExitReason_EXIT_REASON_STOPPED,
		manager.ReasonHung:           pb.ExitReason_EXIT_REASON_HUNG,
		manager.ReasonDeadline:       pb.ExitReason_EXIT_REASON_DEADLINE,
		manager.ReasonShutdown:       pb.ExitReason_EXIT_REASON_DAEMON_SHUTDOWN,
		manager.ReasonClientGone:     pb.ExitReason_EXIT_REASON_CLIENT_GONE,
		manager.ReasonStartupTimeout: pb.ExitReason_EXIT_REASON_STARTUP_TIMEOUT,
		manager.ReasonCrashLoop:      pb.ExitReason_EXIT_REASON_CRASH_LOOP,
	})
	restartModes = newEnumMap(map[manager.RestartMode]pb.RestartMode{
		manager.RestartNever:     pb.RestartMode_RESTART_MODE_NEVER,
		manager.RestartOnFailure: pb.RestartMode_RESTART_MODE_ON_FAILURE,
		manager.RestartAlways:    pb.RestartMode_RESTART_MODE_ALWAYS,
	})
	// restartFailures: the core's are bits of a set (manager.Failures).
	restartFailures = newEnumMap(map[manager.Failures]pb.RestartFailure{
		manager.FailNonZero:  pb.RestartFailure_RESTART_FAILURE_NONZERO,
		manager.FailSignal:   pb.RestartFailure_RESTART_FAILURE_SIGNAL,
		manager.FailHung:     pb.RestartFailure_RESTART_FAILURE_HUNG,
		manager.FailDeadline: pb.RestartFailure_RESTART_FAILURE_DEADLINE,
		manager.FailStartup:  pb.RestartFailure_RESTART_FAILURE_STARTUP_TIMEOUT,
	})
	killModes = newEnumMap(map[manager.KillMode]pb.KillMode{
		manager.KillGroup:  pb.KillMode_KILL_MODE_GROUP,
		manager.KillLeader: pb.KillMode_KILL_MODE_LEADER,
	})
	stdinModes = newEnumMap(map[manager.StdinMode]pb.StdinMode{
		manager.StdinNull: pb.StdinMode_STDIN_MODE_NULL,
		manager.StdinPipe: pb.StdinMode_STDIN_MODE_PIPE,
	})
	activitySources = newEnumMap(map[watchdog.Source]pb.ActivitySource{
		watchdog.Heartbeat: pb.ActivitySource_ACTIVITY_SOURCE_HEARTBEAT,
		watchdog.Notify:    pb.ActivitySource_ACTIVITY_SOURCE_NOTIFY,
		watchdog.Output:    pb.ActivitySource_ACTIVITY_SOURCE_OUTPUT,
		watchdog.CPU:       pb.ActivitySource_ACTIVITY_SOURCE_CPU,
		watchdog.File:      pb.ActivitySource_ACTIVITY_SOURCE_FILE,
	})
	eventTypes = newEnumMap(map[events.Type]pb.EventType{
		events.Started:       pb.EventType_EVENT_TYPE_STARTED,
		events.Exited:        pb.EventType_EVENT_TYPE_EXITED,
		events.SignalSent:    pb.EventType_EVENT_TYPE_SIGNAL_SENT,
		events.Escalated:     pb.EventType_EVENT_TYPE_ESCALATED,
		events.Leftovers:     pb.EventType_EVENT_TYPE_LEFTOVERS,
		events.OutputDropped: pb.EventType_EVENT_TYPE_OUTPUT_DROPPED,
		events.Removed:       pb.EventType_EVENT_TYPE_REMOVED,
		events.Slow:          pb.EventType_EVENT_TYPE_SLOW,
		events.Hung:          pb.EventType_EVENT_TYPE_HUNG,
		events.Deadline:      pb.EventType_EVENT_TYPE_DEADLINE,
		events.ActivityReady: pb.EventType_EVENT_TYPE_ACTIVITY_READY,
		events.Recovered:     pb.EventType_EVENT_TYPE_RECOVERED,
		events.NotifyStatus:  pb.EventType_EVENT_TYPE_NOTIFY_STATUS,
		events.BatchStarted:  pb.EventType_EVENT_TYPE_BATCH_STARTED,
		events.JobFinished:   pb.EventType_EVENT_TYPE_JOB_FINISHED,
		events.BatchFinished: pb.EventType_EVENT_TYPE_BATCH_FINISHED,
		events.OOMKilled:     pb.EventType_EVENT_TYPE_OOM_KILLED,
		events.Ready:         pb.EventType_EVENT_TYPE_READY,
		events.Restarting:    pb.EventType_EVENT_TYPE_RESTARTING,
	})
	jobOutcomes = newEnumMap(map[executor.Outcome]pb.JobOutcome{
		executor.Succeeded:   pb.JobOutcome_JOB_OUTCOME_SUCCEEDED,
		executor.ExitCode:    pb.JobOutcome_JOB_OUTCOME_EXIT_CODE,
		executor.Signal:      pb.JobOutcome_JOB_OUTCOME_SIGNAL,
		executor.Timeout:     pb.JobOutcome_JOB_OUTCOME_TIMEOUT,
		executor.StartFailed: pb.JobOutcome_JOB_OUTCOME_START_FAILED,
		executor.Cancelled:   pb.JobOutcome_JOB_OUTCOME_CANCELLED,
	})
	// streams: the core names output streams by string (events.Event.Stream).
	streams = newEnumMap(map[string]pb.Stream{
		"stdout": pb.Stream_STREAM_STDOUT,
		"stderr": pb.Stream_STREAM_STDERR,
	})
)
