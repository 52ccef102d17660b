package verify_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// Links larger than half the bound on evidence read at once (32 MiB) are
// read one after another, whatever the cores; smaller ones one per core.
func TestLargeLinksReadOneAtATime(t *testing.T) {
	for _, size := range []int64{17 << 20, 20 << 20, 20_000_000, 32 << 20, 100 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var now, most atomic.Int64
			var links []verify.Evidence
			for i := range 6 {
				links = append(links, verify.LazyEvidence(fmt.Sprintf("link%d", i), size, func() (*attest.Envelope, error) {
					n := now.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(20 * time.Millisecond)
					now.Add(-1)
					return nil, errors.New("not read here")
				}))
			}
			verify.ExamineAll(context.Background(), links)
			if m := most.Load(); m != 1 {
				t.Errorf("links of %d bytes: %d read at once, want 1", size, m)
			}
		})
	}
}
