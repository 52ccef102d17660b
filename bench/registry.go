package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/registry"
)

// slowRegistry is referee's embedded registry (in memory) served twice
// from one store: directly, for setting up the chains, and behind a
// testenv.DelayHandler, for what is measured.
type slowRegistry struct {
	direct, slow string // host:port
	proxy        *testenv.DelayHandler
	close        func()
}

func startRegistry(rtt time.Duration, trace func(string)) (*slowRegistry, error) {
	reg, err := registry.New(registry.Options{Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		return nil, fmt.Errorf("starting the registry: %w", err)
	}
	p := &testenv.DelayHandler{Next: reg, Delay: rtt, Trace: trace}
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
