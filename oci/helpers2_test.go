package oci_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// reqRecord is one request the backend registry answered.
type reqRecord struct {
	Method, Path, Query, ContentType string
	Status                           int
	// Digest is the response's Docker-Content-Digest.
	Digest string
}

// isWrite reports whether the request stored content: a manifest PUT or a
// completed blob upload (PUT to an upload, or a monolithic POST with
// ?digest=), answered 201 Created.
func (r reqRecord) isWrite() bool {
	if r.Status != http.StatusCreated {
		return false
	}
	switch {
	case r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/"):
		return true
	case r.Method == http.MethodPut && strings.Contains(r.Path, "/blobs/uploads/"):
		return true
	case r.Method == http.MethodPost && strings.Contains(r.Path, "/blobs/uploads") && strings.Contains(r.Query, "digest="):
		return true
	}
	return false
}

// backend is go-containerregistry's registry in-process with a log of
// every request it answered, recorded at the registry itself (behind any
// proxy).
type backend struct {
	host string
	mu   sync.Mutex
	recs []reqRecord
}

func newBackend(t testing.TB, referrersAPI bool) *backend {
	t.Helper()
	b := &backend{}
	reg := ggcr.New(ggcr.WithReferrersSupport(referrersAPI), ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sr := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		ct := r.Header.Get("Content-Type")
		reg.ServeHTTP(sr, r)
		b.mu.Lock()
		b.recs = append(b.recs, reqRecord{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, ContentType: ct, Status: sr.status, Digest: w.Header().Get("Docker-Content-Digest")})
		b.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	b.host = strings.TrimPrefix(srv.URL, "http://")
	return b
}

// records returns the log and, with reset, empties it.
func (b *backend) records(reset bool) []reqRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]reqRecord(nil), b.recs...)
	if reset {
		b.recs = nil
	}
	return out
}

// writes counts successful writes per digest.
func writesPerDigest(recs []reqRecord) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		if r.isWrite() {
			out[r.Digest]++
		}
	}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// tagIndex reads the referrers tag-schema index of subject from s.
func tagIndex(t testing.TB, s oci.Store, subject ocispec.Descriptor) ocispec.Index {
	t.Helper()
	ctx := context.Background()
	tag := strings.Replace(subject.Digest.String(), ":", "-", 1)
	desc, err := s.Resolve(ctx, tag)
	if err != nil {
		t.Fatalf("resolving %s: %v", tag, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(fetch(t, s, desc), &idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

// forgeTagIndex is shared with the verify tests.
var forgeTagIndex = testenv.ForgeTagIndex

func digestsOf(ds []ocispec.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest.String())
	}
	sort.Strings(out)
	return out
}

// graphDigests lists every node of a referrer graph below the root, as
// parent>child pairs, with problem nodes marked.
func graphDigests(n *oci.Node) []string {
	var out []string
	var walk func(n *oci.Node)
	walk = func(n *oci.Node) {
		for _, c := range n.Referrers {
			s := n.Digest + ">" + c.Digest
			if c.Problem != "" {
				s += " (problem)"
			}
			out = append(out, s)
			walk(c)
		}
	}
	walk(n)
	sort.Strings(out)
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
