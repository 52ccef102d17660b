package oci_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/referee-dev/referee/internal/testenv"
)

// hostileRegistry is go-containerregistry's registry (with the referrers
// API) behind a handler that, once armed, misbehaves on the requests bad
// matches and passes every other request through, so that images can be
// pushed and everything but the hostile step works. It returns host:port
// and the function that arms it.
func hostileRegistry(t *testing.T, bad func(*http.Request) bool, m testenv.Misbehaviour) (string, func()) {
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
