package server

import (
	"context"
	"fmt"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/codes"
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
