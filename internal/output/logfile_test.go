package output

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func readStream(s *Stream, off int64) ([]byte, int64) {
	var out []byte
	buf := make([]byte, 7000)
	first := int64(-1)
	for {
		n, start, _ := s.ReadAt(buf, off)
		if n == 0 {
			return out, first
		}
		if first < 0 {
			first = start
		}
		if start != off && len(out) > 0 {
			panic("gap in the middle of a read")
		}
		out = append(out, buf[:n]...)
		off = start + int64(n)
	}
}

// The ring plus the log give back every byte the log still holds, and the
// log stays within count × size.
func TestStreamReadsOlderBytesFromTheLog(t *testing.T) {
	dir := t.TempDir()
	log, err := OpenLog(dir, "stdout", 64<<10, 4)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStream(NewRing(16<<10), log, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	var all []byte
	for len(all) < 200<<10 {
		p := make([]byte, 1+rng.IntN(9000))
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
		s.Write(p)
		all = append(all, p...)
	}
	if u := s.DiskUsage(); u > 4*64<<10 {
		t.Fatalf("disk usage %d over the cap", u)
	}
	total, oldest, _ := s.Info()
	if total != int64(len(all)) || oldest != total-s.DiskUsage() {
		t.Fatalf("info total %d oldest %d (disk %d, written %d)", total, oldest, s.DiskUsage(), len(all))
	}
	got, first := readStream(s, 0)
	if first != oldest || !bytes.Equal(got, all[oldest:]) {
		t.Fatalf("read %d bytes from %d; want %d from %d", len(got), first, int64(len(all))-oldest, oldest)
	}
	// From the middle of an old segment.
	mid := oldest + 100_000
	got, first = readStream(s, mid)
	if first != mid || !bytes.Equal(got, all[mid:]) {
		t.Fatalf("middle read from %d: %d bytes", first, len(got))
	}
	s.Close()
	s.Remove()
}
