package workers_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/referee-dev/referee/internal/workers"
)

func TestEach(t *testing.T) {
	for _, tc := range []struct{ workers, n int }{
		{0, 0}, {1, 0}, {0, 5}, {1, 5}, {4, 3}, {3, 1000}, {64, 64},
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
			})
			for i := range calls {
				if c := calls[i].Load(); c != 1 {
					t.Errorf("fn(%d) called %d times", i, c)
				}
			}
			if limit := max(tc.workers, 1); int(most.Load()) > limit {
				t.Errorf("%d calls at once, want at most %d", most.Load(), limit)
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
