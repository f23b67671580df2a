// Package store is procd's state database: the records it keeps across
// daemon runs, as opaque values under string keys, and counters whose
// numbers never go back or repeat from one run to the next.
//
// It is one bbolt file. bbolt was chosen over SQLite because it is pure
// Go (no cgo in a daemon that forks thousands of times a second), a
// key-value store is all procd needs, and its copy-on-write B+tree with
// two checksummed meta pages means a crash at any instant — power cut,
// SIGKILL, in the middle of a commit — leaves the last committed
// transaction readable: a write is either wholly there or not at all.
//
// Writes are group commits. Put and Delete only note the change (the
// newest per key wins) and return; one writer goroutine commits every
// change noted since its last commit in one transaction, at most every
// commitInterval, and calls a Put's encoder only then, so a value changed
// many times between commits is encoded once. The price is a window of
// about one interval: a change noted just before a crash may be missing.
// Counters are the exception: Reserve returns only once the reservation is
// on disk.
//
// The package knows nothing of processes: what a value means is its
// caller's business.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// commitInterval is the least time between the starts of two commits:
// changes noted meanwhile wait for the next, so a burst of starts costs ten
// fsyncs a second rather than one per commit the disk can take. Back to
// back commits cost P1 (start+wait of /bin/true at 8 clients) about a
// third of its rate on a shared VM: an fsync slows the whole machine's
// disk, not only the writer.
const commitInterval = 100 * time.Millisecond

// FileName is the store's file in the state directory.
const FileName = "records.db"

var (
	bucketValues   = []byte("values")
	bucketCeilings = []byte("counter-ceilings") // reserved: every number up to it may be in use
	bucketExact    = []byte("counter-exact")    // written by Close only: the last number used
)

// Store is an open state database. Use Open; it is safe for concurrent use.
type Store struct {
	db  *bolt.DB
	log *zap.Logger

	mu       sync.Mutex
	pending  map[string]func() []byte // nil func: delete
	kick     chan struct{}            // a change is pending
	flushed  *sync.Cond               // signalled after every commit
	seqNoted uint64                   // changes noted so far
	seqDone  uint64                   // changes committed (or failed) so far
	closed   bool
	failed   error // the last commit's error, for Flush
	quit     chan struct{}
	done     chan struct{}

	counters map[string]Counter
}

// Counter is a counter's value at Open.
type Counter struct {
	// Last is the last number the previous runs may have used: the exact
	// last one after a clean Close, else the reserved ceiling.
	Last uint64
	// Ceiling is what is reserved on disk (≥ Last): numbers up to it need
	// no new reservation.
	Ceiling uint64
	// Clean is true when the previous run closed the store (Last is exact).
	Clean bool
}

// Open opens (creating it if needed) the store in dir. It waits up to
// timeout for another process holding the file to let go. Reading the
// counters also forgets their exact values, so that a crash of this run
// falls back on its ceilings rather than on the previous run's last number.
func Open(dir string, timeout time.Duration, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("state store %s: %w", path, err)
	}
	s := &Store{
		db: db, log: log,
		pending:  make(map[string]func() []byte),
		kick:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		counters: make(map[string]Counter),
	}
	s.flushed = sync.NewCond(&s.mu)
	if err := db.Update(s.openCounters); err != nil {
		db.Close()
		return nil, fmt.Errorf("state store %s: %w", path, err)
	}
	go s.writer()
	return s, nil
}

// openCounters creates the buckets, reads the counters and deletes their
// exact values.
func (s *Store) openCounters(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketValues, bucketCeilings, bucketExact} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	ceil, exact := tx.Bucket(bucketCeilings), tx.Bucket(bucketExact)
	err := ceil.ForEach(func(k, v []byte) error {
		c := decodeUint(v)
		s.counters[string(k)] = Counter{Last: c, Ceiling: c}
		return nil
	})
	if err != nil {
		return err
	}
	var stale [][]byte
	err = exact.ForEach(func(k, v []byte) error {
		stale = append(stale, k)
		if c, ok := s.counters[string(k)]; ok && decodeUint(v) <= c.Ceiling {
			c.Last, c.Clean = decodeUint(v), true
			s.counters[string(k)] = c
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := exact.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Counter returns a counter's value at Open (zero for a new counter).
func (s *Store) Counter(name string) Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters[name]
}

// Reserve records on disk that numbers of counter name up to upTo may be
// in use, and returns once that is durable. A ceiling never goes down.
func (s *Store) Reserve(name string, upTo uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCeilings)
		if decodeUint(b.Get([]byte(name))) >= upTo {
			return nil
		}
		return b.Put([]byte(name), encodeUint(upTo))
	})
	if err != nil {
		return fmt.Errorf("state store: reserve %s up to %d: %w", name, upTo, err)
	}
	return nil
}

// Values calls fn with every stored key and value, in key order. The
// slices are valid only during the call.
func (s *Store) Values(fn func(key string, value []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketValues).ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// Put notes that key is to hold what encode returns when the writer
// commits (encode runs on the writer's goroutine; nil from it skips the
// key). It does not wait for the commit.
func (s *Store) Put(key string, encode func() []byte) {
	s.note(key, encode)
}

// Delete notes that key is to be deleted. It does not wait for the commit.
func (s *Store) Delete(key string) {
	s.note(key, nil)
}

func (s *Store) note(key string, encode func() []byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.pending[key] = encode
	s.seqNoted++
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Flush waits until every change noted before it is committed, and
// returns the error of the last commit, if it failed.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := s.seqNoted
	for s.seqDone < want && !s.closed {
		s.flushed.Wait()
	}
	return s.failed
}

// writer commits pending changes until Close.
func (s *Store) writer() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
		case <-s.quit:
			s.commit()
			return
		}
		t0 := time.Now()
		s.commit()
		select {
		case <-time.After(commitInterval - time.Since(t0)):
		case <-s.quit:
			s.commit()
			return
		}
	}
}

// commit writes every pending change in one transaction.
func (s *Store) commit() {
	s.mu.Lock()
	batch, upTo := s.pending, s.seqNoted
	if len(batch) > 0 {
		s.pending = make(map[string]func() []byte, len(batch))
	} else {
		batch = nil // not s.pending, which note writes once mu is released
	}
	s.mu.Unlock()
	var err error
	if len(batch) > 0 {
		err = s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketValues)
			for k, enc := range batch {
				if enc == nil {
					if err := b.Delete([]byte(k)); err != nil {
						return err
					}
					continue
				}
				if v := enc(); v != nil {
					if err := b.Put([]byte(k), v); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	s.mu.Lock()
	if err != nil {
		// Kept for the next commit, unless noted again meanwhile: a full
		// disk loses nothing that a later commit can still write.
		for k, enc := range batch {
			if _, newer := s.pending[k]; !newer {
				s.pending[k] = enc
			}
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	switch {
	case err != nil && s.failed == nil:
		s.log.Error("state store commit failed; retrying, and records changed meanwhile do not survive a crash until it succeeds",
			zap.Int("changes", len(batch)), zap.Error(err))
	case err == nil && s.failed != nil && len(batch) > 0:
		s.log.Info("state store commits again")
	}
	s.failed = err
	s.seqDone = max(s.seqDone, upTo)
	pending := s.seqNoted - s.seqDone
	s.flushed.Broadcast()
	s.mu.Unlock()
	if ce := s.log.Check(zap.DebugLevel, "state store commit"); ce != nil && len(batch) > 0 {
		// pending 0: every change noted before this line is on disk.
		ce.Write(zap.Int("changes", len(batch)), zap.Uint64("pending", pending))
	}
}

// Close commits what is pending, stores the exact last numbers of the
// counters given (a clean stop: the next run continues from them), and
// closes the file.
func (s *Store) Close(exact map[string]uint64) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	close(s.quit)
	<-s.done
	s.mu.Lock()
	s.closed = true
	s.flushed.Broadcast()
	s.mu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketExact)
		for name, last := range exact {
			if err := b.Put([]byte(name), encodeUint(last)); err != nil {
				return err
			}
		}
		return nil
	})
	return errors.Join(err, s.db.Close())
}

func encodeUint(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func decodeUint(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
