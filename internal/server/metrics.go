package server

import "google.golang.org/grpc"

// Metrics are placeholders until the metrics endpoint is wired.
type Metrics struct{ grpc grpcMetrics }

type grpcMetrics interface {
	UnaryServerInterceptor() grpc.UnaryServerInterceptor
	StreamServerInterceptor() grpc.StreamServerInterceptor
}
