package oci

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// DefaultMaxTotalBytes bounds all the envelope bytes read for one image,
// so that many referrers, or one listing a blob many times, cannot exhaust
// memory.
const DefaultMaxTotalBytes = 256 << 20

// budget is what is left of DefaultMaxTotalBytes in one gather: it counts
// every byte read, kept or not.
type budget struct{ left atomic.Int64 }

func newBudget() *budget {
	b := &budget{}
	b.left.Store(DefaultMaxTotalBytes)
	return b
}

// spend takes n bytes from the budget, or fails once it is exhausted.
func (b *budget) spend(n int) error {
	if b.left.Add(-int64(n)) < 0 {
		return fmt.Errorf("the evidence attached to this image is more than %d bytes", DefaultMaxTotalBytes)
	}
	return nil
}

// DefaultSharedBytes is the size of the evidence budget that
// promote.CheckMany shares between the images it checks at once.
const DefaultSharedBytes = DefaultMaxTotalBytes

// Budget bounds the envelope bytes held in memory at once by every
// DiscoverAndGather that shares it (DiscoverOptions.Budget), such as the
// images of a batch verified in parallel: each envelope blob takes its
// size before it is fetched and gives it back when the document is
// dropped, or when the caller is done with the Bundle (Bundle.Release, or
// the end of the context the gather was given). A gather that does not
// fit waits; the one that started first never waits, so that images
// holding part of the budget cannot wait on each other forever: at most
// the budget plus that image's own evidence (DefaultMaxTotalBytes) is
// held. A Budget is safe for concurrent use.
type Budget struct {
	mu     sync.Mutex
	limit  int64
	used   int64
	leases []*lease // open, oldest first
	wake   chan struct{}
	// decode bounds the bytes being decoded at once, by every gather.
	decode *semaphore.Weighted
}

// NewBudget returns a budget of limit bytes; limit <= 0 means
// DefaultSharedBytes.
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		limit = DefaultSharedBytes
	}
	return &Budget{limit: limit, wake: make(chan struct{}), decode: semaphore.NewWeighted(DefaultMaxBlobBytes)}
}

// Used returns the bytes held now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// lease is one gather's share of a Budget. A nil lease (no Budget) holds
// nothing and never waits.
type lease struct {
	b    *Budget
	held int64 // under b.mu
	done bool
}

// open starts a gather's lease; on a nil Budget it returns nil.
func (b *Budget) open() *lease {
	if b == nil {
		return nil
	}
	l := &lease{b: b}
	b.mu.Lock()
	b.leases = append(b.leases, l)
	b.mu.Unlock()
	return l
}

// acquire takes n bytes, waiting while they do not fit unless l is the
// oldest open lease.
func (l *lease) acquire(ctx context.Context, n int64) error {
	if l == nil || n <= 0 {
		return nil
	}
	b := l.b
	for {
		b.mu.Lock()
		if b.used+n <= b.limit || (len(b.leases) > 0 && b.leases[0] == l) {
			b.used += n
			l.held += n
			b.mu.Unlock()
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("waiting for memory to hold the evidence (the %d MiB shared by the images verified at once): %w", b.limit>>20, ctx.Err())
		}
	}
}

// tryAcquire is acquire without waiting: it reports whether n bytes were
// taken.
func (l *lease) tryAcquire(n int64) bool {
	if l == nil || n <= 0 {
		return true
	}
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit && (len(b.leases) == 0 || b.leases[0] != l) {
		return false
	}
	b.used += n
	l.held += n
	return true
}

// release gives back n bytes taken by acquire.
func (l *lease) release(n int64) {
	if l == nil || n <= 0 {
		return
	}
	b := l.b
	b.mu.Lock()
	n = min(n, l.held)
	l.held -= n
	b.used -= n
	b.signal()
	b.mu.Unlock()
}

// close gives back everything l holds and ends it; the next oldest lease
// may then go over the limit. Closing twice does nothing.
func (l *lease) close() {
	if l == nil {
		return
	}
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if l.done {
		return
	}
	l.done = true
	b.used -= l.held
	l.held = 0
	for i, o := range b.leases {
		if o == l {
			b.leases = append(b.leases[:i], b.leases[i+1:]...)
			break
		}
	}
	b.signal()
}

// signal wakes every waiter, under b.mu.
func (b *Budget) signal() {
	close(b.wake)
	b.wake = make(chan struct{})
}
