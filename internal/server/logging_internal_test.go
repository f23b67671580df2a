package server

import (
	"context"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// With debug lines off, an OK call logs nothing and builds nothing; a call
// that fails at a logged level gets the line the full interceptor writes;
// with debug on, the full interceptor runs.
func TestQuietUnaryLogsWhatTheFullInterceptorWould(t *testing.T) {
	info := &grpc.UnaryServerInfo{FullMethod: "/procd.v1.ProcessService/StartProcess"}
	for _, lvl := range []zapcore.Level{zapcore.WarnLevel, zapcore.DebugLevel} {
		core, logs := observer.New(lvl)
		log := zap.New(core)
		full := logging.UnaryServerInterceptor(zapLogger(log), logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(callLevel))
		quiet := quietUnary(log, full)
		ok := func(context.Context, any) (any, error) { return "resp", nil }
		busy := func(context.Context, any) (any, error) {
			return nil, status.Error(codes.ResourceExhausted, "out of descriptors")
		}
		if resp, err := quiet(context.Background(), nil, info, ok); resp != "resp" || err != nil {
			t.Fatalf("OK call returned %v, %v", resp, err)
		}
		if lvl == zapcore.WarnLevel && logs.Len() != 0 {
			t.Fatalf("an OK call logged %d lines with debug off", logs.Len())
		}
		if lvl == zapcore.DebugLevel && logs.Len() != 1 {
			t.Fatalf("an OK call logged %d lines with debug on, want the full interceptor's one", logs.Len())
		}
		logs.TakeAll()
		if _, err := quiet(context.Background(), nil, info, busy); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("error not passed through: %v", err)
		}
		got := logs.TakeAll()
		if len(got) != 1 || got[0].Message != "finished call" || got[0].Level != zapcore.WarnLevel {
			t.Fatalf("a RESOURCE_EXHAUSTED call logged %+v", got)
		}
		f := got[0].ContextMap()
		if f["grpc.service"] != "procd.v1.ProcessService" || f["grpc.method"] != "StartProcess" ||
			f["grpc.code"] != "ResourceExhausted" || f["grpc.error"] == nil || f["grpc.time_ms"] == nil {
			t.Fatalf("fields %v at %v", f, lvl)
		}
	}
}
