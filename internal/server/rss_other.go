//go:build !linux

package server

func rssBytes() int64 { return 0 }
