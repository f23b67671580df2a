//go:build unix && !linux

package output

// tee is Linux's tee(2); elsewhere every byte is written (Pipe.written).
func (p *Pipe) tee(src, limit int, at int64) int { return 0 }
