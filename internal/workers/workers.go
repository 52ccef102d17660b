// Package workers runs a function over the indexes of a slice on a fixed
// number of goroutines.
package workers

import (
	"sync"
	"sync/atomic"
)

// Each calls fn(i) for every i in [0, n), on at most workers goroutines
// (at least one) that take the indexes in turn, and returns when every
// call has returned. For many small pieces of work it costs a goroutine
// per worker, not per piece: no stack to grow for each, nor a hand-off
// from a loop that starts them.
func Each(workers, n int, fn func(i int)) {
	var next atomic.Int64
	take := func() int { return int(next.Add(1) - 1) }
	var wg sync.WaitGroup
	for range min(max(workers, 1), n) {
		wg.Go(func() {
			for i := take(); i < n; i = take() {
				fn(i)
			}
		})
	}
	wg.Wait()
}
