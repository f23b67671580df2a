package output

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// model is the obvious implementation the ring must agree with.
type model struct {
	all []byte
	max int
}

func (m *model) held() []byte {
	if len(m.all) <= m.max {
		return m.all
	}
	return m.all[len(m.all)-m.max:]
}

func readAll(r *Ring, off int64, chunk int) ([]byte, int64) {
	var out []byte
	buf := make([]byte, chunk)
	first := int64(-1)
	for {
		n, start, _ := r.ReadAt(buf, off)
		if n == 0 {
			return out, first
		}
		if first < 0 {
			first = start
		}
		out = append(out, buf[:n]...)
		off = start + int64(n)
	}
}

func TestRingAgreesWithModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, limit := range []int{1, 7, 4096, 5000, 1 << 16} {
		r := NewRing(limit)
		m := &model{max: limit}
		var dropped int64
		for i := range 300 {
			p := make([]byte, rng.IntN(3*limit/2+2))
			for j := range p {
				p[j] = byte(rng.IntN(256))
			}
			dropped += r.Write(p)
			m.all = append(m.all, p...)
			total, oldest, _ := r.Info()
			want := m.held()
			if total != int64(len(m.all)) || oldest != int64(len(m.all)-len(want)) || dropped != oldest {
				t.Fatalf("limit %d write %d: total %d oldest %d dropped %d; want %d %d", limit, i, total, oldest, dropped, len(m.all), len(m.all)-len(want))
			}
			got, start := readAll(r, 0, 1+rng.IntN(limit+10))
			if len(want) > 0 && (start != oldest || !bytes.Equal(got, want)) {
				t.Fatalf("limit %d write %d: read %d bytes from %d, want %d bytes from %d", limit, i, len(got), start, len(want), oldest)
			}
		}
	}
}

func TestRingReadFromMiddleAndEOF(t *testing.T) {
	r := NewRing(10)
	r.Write([]byte("0123456789abc")) // holds 3456789abc
	buf := make([]byte, 4)
	n, start, eof := r.ReadAt(buf, 0)
	if string(buf[:n]) != "3456" || start != 3 || eof {
		t.Fatalf("got %q from %d eof %v", buf[:n], start, eof)
	}
	n, start, _ = r.ReadAt(buf, 11)
	if string(buf[:n]) != "bc" || start != 11 {
		t.Fatalf("got %q from %d", buf[:n], start)
	}
	if n, _, eof := r.ReadAt(buf, 13); n != 0 || eof {
		t.Fatalf("at end of open stream: n %d eof %v", n, eof)
	}
	select {
	case <-r.Wait(13):
		t.Fatal("Wait fired without new data")
	default:
	}
	w := r.Wait(13)
	r.Write([]byte("d"))
	<-w
	r.Close()
	if _, _, eof := r.ReadAt(buf, 14); !eof {
		t.Fatal("no EOF after close")
	}
	<-r.Wait(14)
	if r.Write([]byte("late")) != 0 {
		t.Fatal("write after close dropped bytes")
	}
	if total, _, _ := r.Info(); total != 14 {
		t.Fatalf("total %d after a write past close", total)
	}
}

func TestRingGrowsLazily(t *testing.T) {
	r := NewRing(1 << 20)
	r.Write([]byte("hi"))
	if c := len(r.buf); c != minCap {
		t.Fatalf("capacity after a small write %d, want %d", c, minCap)
	}
	r.Write(make([]byte, 100_000))
	if c := len(r.buf); c != 131072 {
		t.Fatalf("capacity %d, want 131072", c)
	}
}

func BenchmarkRingWrite64K(b *testing.B) {
	r := NewRing(1 << 20)
	p := make([]byte, 64<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		r.Write(p)
	}
}
