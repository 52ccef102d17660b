package oci_test

import (
	"bufio"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// misbehaviour answers one request of a hostile registry; done closes at
// the end of the test.
type misbehaviour func(w http.ResponseWriter, r *http.Request, next http.Handler, done <-chan struct{})

// hostileRegistry is go-containerregistry's registry (with the referrers
// API) behind a handler that, once armed, misbehaves on the requests bad
// matches and passes every other request through, so that images can be
// pushed and everything but the hostile step works. It returns host:port
// and the function that arms it.
func hostileRegistry(t *testing.T, bad func(*http.Request) bool, m misbehaviour) (string, func()) {
	t.Helper()
	backend := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	done := make(chan struct{})
	var armed atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if armed.Load() && bad(r) {
			m(w, r, backend, done)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first: stalled handlers return
	return strings.TrimPrefix(srv.URL, "http://"), func() { armed.Store(true) }
}

// getOf matches GET requests whose path contains part.
func getOf(part string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == http.MethodGet && strings.Contains(r.URL.Path, part) }
}

// silent takes the connection and never answers.
func silent(w http.ResponseWriter, r *http.Request, _ http.Handler, done <-chan struct{}) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	<-done
}

// dripHeaders sends a status line, then one header line every interval,
// never ending the headers (slowloris).
func dripHeaders(every time.Duration) misbehaviour {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler, done <-chan struct{}) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		bw := bufio.NewWriter(c)
		_, _ = bw.WriteString("HTTP/1.1 200 OK\r\n")
		_ = bw.Flush()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_, _ = bw.WriteString("X-Slow: still here\r\n")
				if bw.Flush() != nil {
					return
				}
			}
		}
	}
}

// dripBody answers as the real registry would, headers first, then sends
// the body one byte every interval; every <= 0 sends half the body and
// then nothing more.
func dripBody(every time.Duration) misbehaviour {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler, done <-chan struct{}) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		rc := http.NewResponseController(w)
		if every <= 0 {
			_, _ = w.Write(body[:len(body)/2])
			_ = rc.Flush()
			select {
			case <-done:
			case <-r.Context().Done():
			}
			return
		}
		_ = rc.Flush()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for _, b := range body {
			select {
			case <-done:
				return
			case <-r.Context().Done():
				return
			case <-tick.C:
				if _, err := w.Write([]byte{b}); err != nil || rc.Flush() != nil {
					return
				}
			}
		}
	}
}
