package workers_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referee-dev/referee/internal/workers"
)

func TestEach(t *testing.T) {
	for _, tc := range []struct{ workers, n int }{
		{0, 0}, {1, 0}, {0, 5}, {1, 5}, {4, 3}, {3, 300}, {64, 64}, {8, 200},
	} {
		t.Run(fmt.Sprintf("%d workers, %d", tc.workers, tc.n), func(t *testing.T) {
			calls := make([]atomic.Int32, tc.n)
			var running, most atomic.Int32
			var mu sync.Mutex
			workers.Each(tc.workers, tc.n, func(i int) {
				r := running.Add(1)
				defer running.Add(-1)
				mu.Lock()
				most.Store(max(most.Load(), r))
				mu.Unlock()
				calls[i].Add(1)
				time.Sleep(100 * time.Microsecond) // so that calls overlap, as many as may
			})
			for i := range calls {
				if c := calls[i].Load(); c != 1 {
					t.Errorf("fn(%d) called %d times", i, c)
				}
			}
			if limit := max(tc.workers, 1); int(most.Load()) > limit {
				t.Errorf("%d calls at once, want at most %d", most.Load(), limit)
			}
			if tc.workers >= 2 && tc.n >= 100 && most.Load() < 2 {
				t.Errorf("the calls ran one at a time, with %d workers", tc.workers)
			}
		})
	}
}

func ExampleEach() {
	squares := make([]int, 5)
	workers.Each(2, len(squares), func(i int) { squares[i] = i * i })
	fmt.Println(squares)
	// Output: [0 1 4 9 16]
}
