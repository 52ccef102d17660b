package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/referee-dev/referee/registry"
)

// latencyProxy stands in front of a registry handler: it waits delay
// before passing each request on, as if the registry were one round trip
// away, and counts the requests. (Connections are not delayed: on a real
// network a new connection costs a round trip more.)
type latencyProxy struct {
	next     http.Handler
	delay    time.Duration
	requests atomic.Int64
	// inflight is the requests being served now, peak the most at once
	// since it was last reset.
	inflight, peak atomic.Int64
	// trace, if set, hears of each request as it arrives.
	trace func(string)
}

func (p *latencyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.requests.Add(1)
	cur := p.inflight.Add(1)
	defer p.inflight.Add(-1)
	for {
		old := p.peak.Load()
		if cur <= old || p.peak.CompareAndSwap(old, cur) {
			break
		}
	}
	if p.trace != nil {
		p.trace(fmt.Sprintf("request %d: %s %s", n, r.Method, r.URL.Path))
	}
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	p.next.ServeHTTP(w, r)
}

// slowRegistry is referee's embedded registry (in memory) served twice
// from one store: directly, for setting up the chains, and behind a
// latencyProxy, for what is measured.
type slowRegistry struct {
	direct, slow string // host:port
	proxy        *latencyProxy
	close        func()
}

func startRegistry(rtt time.Duration, trace func(string)) (*slowRegistry, error) {
	reg, err := registry.New(registry.Options{Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		return nil, fmt.Errorf("starting the registry: %w", err)
	}
	p := &latencyProxy{next: reg, delay: rtt, trace: trace}
	var servers []*http.Server
	serve := func(h http.Handler) (string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
		servers = append(servers, s)
		go func() {
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Printf("bench registry: %v", err)
			}
		}()
		return l.Addr().String(), nil
	}
	b := &slowRegistry{proxy: p, close: func() {
		for _, s := range servers {
			_ = s.Close()
		}
		_ = reg.Close()
	}}
	if b.direct, err = serve(reg); err == nil {
		b.slow, err = serve(p)
	}
	if err != nil {
		b.close()
		return nil, fmt.Errorf("starting the registry: %w", err)
	}
	return b, nil
}
