package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// zapLogger adapts zap to go-grpc-middleware's logging interface (its zap
// provider module is not published; the adapter is this small).
func zapLogger(l *zap.Logger) logging.Logger {
	return logging.LoggerFunc(func(_ context.Context, lvl logging.Level, msg string, fields ...any) {
		zl := zapLevel(lvl)
		ce := l.Check(zl, msg)
		if ce == nil {
			return
		}
		zf := make([]zap.Field, 0, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			key, ok := fields[i].(string)
			if !ok {
				key = fmt.Sprint(fields[i])
			}
			zf = append(zf, zap.Any(key, fields[i+1]))
		}
		ce.Write(zf...)
	})
}

func zapLevel(l logging.Level) zapcore.Level {
	switch l {
	case logging.LevelDebug:
		return zapcore.DebugLevel
	case logging.LevelInfo:
		return zapcore.InfoLevel
	case logging.LevelWarn:
		return zapcore.WarnLevel
	}
	return zapcore.ErrorLevel
}

// callLevel logs successful and expected-failure calls at debug (a fuzzer
// makes thousands per second) and server-side failures louder.
func callLevel(c codes.Code) logging.Level {
	switch c {
	case codes.OK, codes.Canceled, codes.NotFound, codes.InvalidArgument, codes.AlreadyExists,
		codes.FailedPrecondition, codes.OutOfRange, codes.DeadlineExceeded:
		return logging.LevelDebug
	case codes.ResourceExhausted, codes.PermissionDenied, codes.Unauthenticated, codes.Unavailable:
		return logging.LevelWarn
	}
	return logging.LevelError
}

// quietUnary runs the call-logging interceptor full only while debug lines
// are on. Otherwise every call that ends at a debug level (OK and the
// expected failures: nearly all of a fuzzer's thousands per second) would
// have its fields built for a line that is dropped; the few calls whose
// line is written get the same fields, built after the fact.
func quietUnary(l *zap.Logger, full grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if l.Core().Enabled(zapcore.DebugLevel) {
			return full(ctx, req, info, handler)
		}
		t0 := time.Now()
		resp, err := handler(ctx, req)
		code := status.Code(err)
		ce := l.Check(zapLevel(callLevel(code)), "finished call")
		if ce == nil {
			return resp, err
		}
		service, method, _ := strings.Cut(strings.TrimPrefix(info.FullMethod, "/"), "/")
		fields := []zap.Field{zap.String("protocol", "grpc"), zap.String("grpc.component", "server"),
			zap.String("grpc.service", service), zap.String("grpc.method", method), zap.String("grpc.method_type", "unary")}
		if p, ok := peer.FromContext(ctx); ok {
			fields = append(fields, zap.String("peer.address", p.Addr.String()))
		}
		fields = append(fields, zap.String("grpc.start_time", t0.Format(time.RFC3339)))
		if d, ok := ctx.Deadline(); ok {
			fields = append(fields, zap.String("grpc.request.deadline", d.Format(time.RFC3339)))
		}
		fields = append(fields, zap.String("grpc.code", code.String()))
		if err != nil {
			fields = append(fields, zap.String("grpc.error", err.Error()))
		}
		ms := float32(time.Since(t0).Nanoseconds()/1000) / 1000
		ce.Write(append(fields, zap.String("grpc.time_ms", fmt.Sprintf("%v", ms)))...)
		return resp, err
	}
}
