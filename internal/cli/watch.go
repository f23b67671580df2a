package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/procd/procd/proto/procd/v1"
)

func (a *app) watchCmd() *cobra.Command {
	var after int64
	var types, ids, names, labels []string
	cmd := &cobra.Command{
		Use:   "watch [--after SEQ] [--type T]... [--id ID]... [--name N]... [--label k=v]...",
		Short: "stream daemon events",
		Long: `watch prints events as they happen, one per line: sequence number, time, type,
process and details. --after SEQ first replays the retained events after SEQ, so
a watcher that was disconnected resumes with no gap and no duplicate (pass the
last seq it printed). Types: started, exited, signal_sent, escalated, leftovers,
output_dropped, removed, slow, hung, deadline, activity_ready, ready, restarting
(a run ended and its restart policy starts the next after the delay it names).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := parseKV("label", labels)
			if err != nil {
				return err
			}
			req := &pb.WatchEventsRequest{ProcessIds: ids, Names: names, Labels: l, Batch: true}
			if cmd.Flags().Changed("after") {
				if after < 0 {
					return usagef("--after %d: sequence numbers start at 1 (0 replays all retained events)", after)
				}
				seq := uint64(after)
				req.AfterSeq = &seq
			}
			for _, t := range types {
				v, ok := pb.EventType_value["EVENT_TYPE_"+strings.ToUpper(t)]
				if !ok || v == 0 {
					return usagef("--type %q: unknown event type", t)
				}
				req.Types = append(req.Types, pb.EventType(v))
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			stream, err := c.Process.WatchEvents(cmd.Context(), req)
			if err != nil {
				return a.explain(err)
			}
			for {
				msg, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return a.explain(err)
				}
				for _, e := range msg.GetEvents() {
					if a.json {
						if err := printJSONLine(a.stdout, e); err != nil {
							return err
						}
						continue
					}
					printEvent(a.stdout, e)
				}
			}
		},
	}
	f := cmd.Flags()
	f.Int64Var(&after, "after", 0, "replay retained events after this sequence number first")
	f.StringArrayVarP(&types, "type", "t", nil, "only events of this type (repeatable)")
	f.StringArrayVar(&ids, "id", nil, "only events of this process id (repeatable)")
	f.StringArrayVar(&names, "name", nil, "only events of processes with this name (repeatable)")
	f.StringArrayVarP(&labels, "label", "l", nil, "only events of processes with this label key=value (repeatable)")
	return cmd
}

func printEvent(w io.Writer, e *pb.Event) {
	typ := strings.ToLower(strings.TrimPrefix(e.GetType().String(), "EVENT_TYPE_"))
	fmt.Fprintf(w, "%d\t%s\t%s\t%s\tpid %d\t%s\t%s\n", e.GetSeq(), e.GetTime().AsTime().Local().Format(time.RFC3339Nano),
		typ, e.GetProcessId(), e.GetPid(), e.GetName(), e.GetDetail())
}
