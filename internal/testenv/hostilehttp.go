package testenv

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Misbehaviour answers one request of a hostile registry in place of
// next, the handler that would have answered it; done closes at the end
// of the test.
type Misbehaviour func(w http.ResponseWriter, r *http.Request, next http.Handler, done <-chan struct{})

// Silent takes the connection and never answers.
func Silent(w http.ResponseWriter, _ *http.Request, _ http.Handler, done <-chan struct{}) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	<-done
}

// DripHeaders takes the connection, sends a status line, then one header
// line every interval, never ending the headers (slowloris).
func DripHeaders(every time.Duration) Misbehaviour {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler, done <-chan struct{}) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		DripHeaderLines(c, every, done)
	}
}

// DripHeaderLines writes a status line to c, then one header line every
// interval, never ending the headers, until done closes or a write fails.
func DripHeaderLines(c io.Writer, every time.Duration, done <-chan struct{}) {
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

// DripBody answers as next would, headers first, then sends the body one
// byte every interval; every <= 0 sends half the body and then nothing
// more.
func DripBody(every time.Duration) Misbehaviour {
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

// TCPServer accepts TCP connections on loopback and hands each to serve
// until the test ends (done closes), and returns host:port. A serve that
// only waits for done is a registry that never answers.
func TCPServer(t testing.TB, serve func(c net.Conn, done <-chan struct{})) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, done)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}
