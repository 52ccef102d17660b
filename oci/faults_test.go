package oci_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

type fault int

const (
	faultNone fault = iota
	fault500
	fault429
	faultReset      // connection reset before the backend sees the request
	faultResetAfter // manifest PUT forwarded, then the connection reset
)

var faultNames = map[fault]string{fault500: "500", fault429: "429", faultReset: "reset", faultResetAfter: "reset-after-write"}

// faultProxy is a reverse proxy in front of a real registry that breaks
// every 3rd new request, cycling through 500, 429 with Retry-After: 1,
// and a reset connection (hijacked and closed with RST, no response). A
// manifest PUT that is reset is forwarded first, so the backend has
// stored it when the client sees the reset. The retry of a broken request
// (same method and URL) passes, so that every operation can succeed.
type faultProxy struct {
	host string
	rp   *httputil.ReverseProxy

	mu          sync.Mutex
	n           int
	pending     map[string]fault
	at429       map[string]time.Time
	waits       []time.Duration
	injected    map[fault]int
	retried     map[fault]int
	resetWrites map[string]int // digests stored by a manifest PUT the client saw reset
}

func newFaultProxy(t testing.TB, backendHost string) *faultProxy {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: backendHost}
	p := &faultProxy{rp: httputil.NewSingleHostReverseProxy(u), pending: map[string]fault{}, at429: map[string]time.Time{},
		injected: map[fault]int{}, retried: map[fault]int{}, resetWrites: map[string]int{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.RequestURI()
	p.mu.Lock()
	if f, ok := p.pending[key]; ok {
		// The client's retry of a request broken earlier: let it through.
		delete(p.pending, key)
		p.retried[f]++
		if f == fault429 {
			p.waits = append(p.waits, time.Since(p.at429[key]))
		}
		p.mu.Unlock()
		p.rp.ServeHTTP(w, r)
		return
	}
	p.n++
	f := faultNone
	if p.n%3 == 0 {
		f = []fault{fault500, fault429, faultReset}[(p.n/3)%3]
		if f == faultReset && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			f = faultResetAfter
		}
		p.pending[key] = f
		p.injected[f]++
		if f == fault429 {
			p.at429[key] = time.Now()
		}
	}
	p.mu.Unlock()

	switch f {
	case faultNone:
		p.rp.ServeHTTP(w, r)
	case fault500:
		io.Copy(io.Discard, r.Body)
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected"}]}`, http.StatusInternalServerError)
	case fault429:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}`, http.StatusTooManyRequests)
	case faultReset, faultResetAfter:
		if f == faultResetAfter {
			rec := httptest.NewRecorder()
			p.rp.ServeHTTP(rec, r)
			if rec.Code == http.StatusCreated {
				p.mu.Lock()
				p.resetWrites[rec.Header().Get("Docker-Content-Digest")]++
				p.mu.Unlock()
			}
		} else {
			io.Copy(io.Discard, r.Body)
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST: "connection reset by peer"
		}
		conn.Close()
	}
}

func (p *faultProxy) summary() (injected, retried map[string]int, waits []time.Duration, resetWrites map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	injected, retried = map[string]int{}, map[string]int{}
	for f, n := range p.injected {
		injected[faultNames[f]] = n
	}
	for f, n := range p.retried {
		retried[faultNames[f]] = n
	}
	rw := map[string]int{}
	for d, n := range p.resetWrites {
		rw[d] = n
	}
	return injected, retried, append([]time.Duration(nil), p.waits...), rw
}

// TestFaultyRegistry attaches a layout and links and pulls them back
// through a proxy that answers 500, 429 and resets connections, on both
// kinds of registry. Everything succeeds through retries; a 429's
// Retry-After is honoured; and nothing is stored twice except where the
// backend stored a manifest whose response the proxy then reset (the
// client cannot know it landed, so re-PUTting the identical manifest is
// legitimate) — and even then the referrers list holds each digest once.
func TestFaultyRegistry(t *testing.T) {
	for _, kind := range []string{"referrers-api", "tag-schema"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel() // each waits a second per 429
			ctx := context.Background()
			be := newBackend(t, kind == "referrers-api")
			image := pushImage(t, open(t, be.host+"/app"), "faulty "+kind)
			sc := newSupplyChain(t, attest.FormDSSE)
			proxy := newFaultProxy(t, be.host)
			be.records(true)

			s := open(t, proxy.host+"/app")
			var attached []string
			for _, f := range [][]byte{sc.layout, sc.links["build"], sc.links["test"]} {
				a, err := oci.Attach(ctx, s, image, f, oci.AttachOptions{})
				if err != nil {
					t.Fatal(err)
				}
				attached = append(attached, a.Manifest.Digest.String())
			}
			// Attaching again through the faults pushes nothing.
			before := len(writesPerDigest(be.records(false)))
			if a, err := oci.Attach(ctx, s, image, sc.links["test"], oci.AttachOptions{}); err != nil || !a.Existed {
				t.Fatalf("re-attach: %+v %v", a, err)
			}
			sort.Strings(attached)

			// Pull through the faults, with a fresh store.
			r := open(t, proxy.host+"/app")
			graph, err := oci.Discover(ctx, r, image, oci.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := oci.Gather(ctx, r, graph, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			res, err := oci.WriteBundle(b, dir)
			if err != nil || len(res.Files) != 3 || len(res.Skipped) != 0 {
				t.Fatalf("pull: %+v %v", res, err)
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "root.layout"))
			if string(raw) != string(sc.layout) {
				t.Fatal("pulled layout differs")
			}

			// The list, read straight from the backend, holds each
			// attached referrer once and nothing else.
			list, err := oci.ListReferrers(ctx, open(t, be.host+"/app"), image, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := digestsOf(list); !sameStrings(got, attached) {
				t.Fatalf("listed %v, attached %v", got, attached)
			}
			if kind == "tag-schema" {
				idx := tagIndex(t, open(t, be.host+"/app"), image)
				if got := digestsOf(idx.Manifests); !sameStrings(got, attached) {
					t.Fatalf("tag index holds %v, attached %v", got, attached)
				}
			}

			// Pushing nothing twice, counted at the backend.
			injected, retried, waits, resetWrites := proxy.summary()
			recs := be.records(false)
			writes := writesPerDigest(recs)
			if len(writes) != before {
				t.Errorf("re-attach wrote %d new digests", len(writes)-before)
			}
			var twice []string
			for d, n := range writes {
				if n > 1+resetWrites[d] {
					t.Errorf("%s written %d times (%d of them reset after the write)", d, n, resetWrites[d])
				}
				if n > 1 {
					twice = append(twice, d[:19])
				}
			}
			for _, f := range []string{"500", "429", "reset"} {
				if injected[f] == 0 {
					t.Errorf("no %s injected: %v", f, injected)
				}
			}
			for f, n := range injected {
				if retried[f] != n {
					t.Errorf("%d %s injected, %d retried", n, f, retried[f])
				}
			}
			for _, w := range waits {
				if w < 950*time.Millisecond {
					t.Errorf("retried %v after a 429 with Retry-After: 1", w)
				}
			}
			t.Logf("%d requests at the backend, %d digests written; injected %v, retried %v; waits after 429: %v; re-PUT after a reset that followed the write: %v",
				len(recs), len(writes), injected, retried, waits, twice)
		})
	}
}
