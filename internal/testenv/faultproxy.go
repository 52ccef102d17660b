package testenv

import (
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// FaultProxy is an in-process reverse proxy (net/http/httputil) in front
// of a registry that fails a fraction of the requests it is sent: half of
// the failures answer 503 with Retry-After: 0, half cut the connection
// (taken over and closed, no answer), either before forwarding the
// request (the registry never sees it) or after (the registry applied it
// and its answer is lost). Which requests fail is drawn from a seeded
// source. It is safe for concurrent use and counts what it did. It stops
// at the end of the test.
type FaultProxy struct {
	// Host is the proxy's host:port, to use in place of the registry's.
	Host string

	rp *httputil.ReverseProxy

	mu     sync.Mutex
	rate   float64
	only   func(*http.Request) bool
	kinds  []FaultKind
	rnd    *rand.Rand
	counts FaultCounts
}

// FaultCounts is what a FaultProxy did.
type FaultCounts struct {
	// Requests is every request it was sent; Forwarded those the
	// registry saw (cut-after ones included).
	Requests, Forwarded int
	// Unavailable were answered 503 with Retry-After: 0, unforwarded.
	Unavailable int
	// CutBefore were cut before forwarding; CutAfter after the registry
	// had answered, CutAfterWrites those of them that were writes (not
	// GET or HEAD) the registry accepted (2xx) and whose answer was lost.
	CutBefore, CutAfter, CutAfterWrites int
}

// Faults is the number of requests that failed.
func (c FaultCounts) Faults() int { return c.Unavailable + c.CutBefore + c.CutAfter }

// NewFaultProxy starts a FaultProxy in front of the registry at backend
// (host:port, plain HTTP) failing rate (0 to 1) of the requests, drawn
// from seed.
func NewFaultProxy(t testing.TB, backend string, rate float64, seed uint64) *FaultProxy {
	t.Helper()
	p := &FaultProxy{
		rp:   httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend}),
		rate: rate,
		rnd:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// SetRate changes the fraction of requests that fail (0 lets all through).
func (p *FaultProxy) SetRate(rate float64) {
	p.mu.Lock()
	p.rate = rate
	p.mu.Unlock()
}

// Only limits the faults to the requests that match (nil: any request);
// the others are always forwarded, and counted too.
func (p *FaultProxy) Only(match func(*http.Request) bool) {
	p.mu.Lock()
	p.only = match
	p.mu.Unlock()
}

// FaultKind is one way a FaultProxy fails a request.
type FaultKind int

// The kinds of fault.
const (
	// Unavailable answers 503 with Retry-After: 0, without forwarding.
	Unavailable FaultKind = iota
	// CutBefore closes the connection without forwarding or answering.
	CutBefore
	// CutAfter forwards the request, then closes the connection without
	// passing the registry's answer on.
	CutAfter
)

// Kinds limits the faults to kinds, drawn evenly (none: half
// Unavailable, a quarter each CutBefore and CutAfter).
func (p *FaultProxy) Kinds(kinds ...FaultKind) {
	p.mu.Lock()
	p.kinds = kinds
	p.mu.Unlock()
}

// Counts returns what the proxy did so far.
func (p *FaultProxy) Counts() FaultCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// forward is a request let through.
const forward FaultKind = -1

func (p *FaultProxy) draw(r *http.Request) FaultKind {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.Requests++
	a := forward
	if (p.only == nil || p.only(r)) && p.rnd.Float64() < p.rate {
		if len(p.kinds) > 0 {
			a = p.kinds[p.rnd.IntN(len(p.kinds))]
		} else {
			a = []FaultKind{Unavailable, Unavailable, CutBefore, CutAfter}[p.rnd.IntN(4)]
		}
	}
	switch a {
	case forward:
		p.counts.Forwarded++
	case Unavailable:
		p.counts.Unavailable++
	case CutBefore:
		p.counts.CutBefore++
	case CutAfter:
		p.counts.Forwarded++
		p.counts.CutAfter++
	}
	return a
}

// ServeHTTP forwards r to the registry, or fails it.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p.draw(r) {
	case forward:
		p.rp.ServeHTTP(w, r)
	case Unavailable:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"fault injected by the test proxy"}]}`)
	case CutBefore:
		_, _ = io.Copy(io.Discard, r.Body)
		cut(w)
	case CutAfter:
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead && rec.Code/100 == 2 {
			p.mu.Lock()
			p.counts.CutAfterWrites++
			p.mu.Unlock()
		}
		cut(w)
	}
}

// cut takes over the connection of w and closes it without an answer.
func cut(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection too, unanswered
	}
	_ = c.Close()
}
