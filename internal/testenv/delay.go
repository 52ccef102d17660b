package testenv

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// DelayHandler serves Next as if it were Delay away: each request waits
// Delay (or until its client gives up) before Next handles it, as a
// registry one round trip away would answer. New connections are not
// delayed. It counts the requests, and the most in flight at once since
// Peak was last reset; Trace, if set, hears of each request as it arrives.
// The benchmarks of verify, promote and `go run ./bench` measure round
// trips behind it.
type DelayHandler struct {
	Next  http.Handler
	Delay time.Duration
	Trace func(string)

	Requests, Peak atomic.Int64
	inflight       atomic.Int64
}

func (p *DelayHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.Requests.Add(1)
	cur := p.inflight.Add(1)
	defer p.inflight.Add(-1)
	for {
		old := p.Peak.Load()
		if cur <= old || p.Peak.CompareAndSwap(old, cur) {
			break
		}
	}
	if p.Trace != nil {
		p.Trace(fmt.Sprintf("request %d: %s %s", n, r.Method, r.URL.Path))
	}
	t := time.NewTimer(p.Delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	p.Next.ServeHTTP(w, r)
}
