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

// Links the one-pass reader declines (a float among the byproducts), which
// are read alone when large, mixed with links it reads: every one is
// examined, none waits forever.
func TestDeclinedLinksReadAlone(t *testing.T) {
	s := mustKey(t)
	envelope := func(i int, declined bool) *attest.Envelope {
		link := &attest.Link{Name: fmt.Sprintf("step%d", i), Products: map[string]attest.HashObj{"a": {"sha256": fmt.Sprintf("%064x", i)}}}
		if declined {
			link.Byproducts = map[string]any{"ratio": 1.5}
		}
		env, err := attest.SignPayload(attest.FormDSSE, mustMarshal(t, link.Marshal), s)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	var opened atomic.Int64
	var links []verify.Evidence
	for i := range 12 {
		env := envelope(i, i%3 == 0)
		links = append(links, verify.LazyEvidence(fmt.Sprintf("step%d.link", i), int64(i%4+1)<<22, func() (*attest.Envelope, error) {
			opened.Add(1)
			return env, nil
		}))
	}
	done := make(chan struct{})
	go func() {
		verify.ExamineAll(context.Background(), links)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("examining links did not end")
	}
	if n := opened.Load(); n != 12 {
		t.Errorf("%d links read, want 12", n)
	}
}
