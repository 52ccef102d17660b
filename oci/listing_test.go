package oci_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/oci"
)

// pagedListing is a referrers API that answers from page(n): the entries
// of page n and whether a Link to page n+1 follows (or, when bySubject is
// set, from it: a listing in one page for each subject digest). It also serves the
// manifests of the synthetic referrers it was given, so that a walk can
// read them without 10,000 pushes.
type pagedListing struct {
	page      func(n int) ([]ocispec.Descriptor, bool)
	bySubject map[string][]ocispec.Descriptor
	subject   string        // when set, page lists only this subject's referrers; others have none
	delay     time.Duration // before each page
	manifests map[string][]byte
	served    atomic.Int64
}

func (p *pagedListing) bad(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if strings.Contains(r.URL.Path, "/referrers/") {
		return true
	}
	i := strings.LastIndex(r.URL.Path, "/manifests/")
	return i >= 0 && p.manifests[r.URL.Path[i+len("/manifests/"):]] != nil
}

func (p *pagedListing) serve(w http.ResponseWriter, r *http.Request, _ http.Handler, done <-chan struct{}) {
	if i := strings.LastIndex(r.URL.Path, "/manifests/"); i >= 0 {
		data := p.manifests[r.URL.Path[i+len("/manifests/"):]]
		w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(data).String())
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(data)
		}
		return
	}
	select {
	case <-time.After(p.delay):
	case <-done:
		return
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	var entries []ocispec.Descriptor
	var next bool
	subject := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	switch {
	case p.bySubject != nil:
		entries = p.bySubject[subject]
	case p.subject == "" || p.subject == subject:
		entries, next = p.page(n)
	}
	p.served.Add(1)
	if entries == nil {
		entries = []ocispec.Descriptor{}
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: entries}
	idx.SchemaVersion = 2
	data, _ := json.Marshal(idx)
	if next {
		w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, n+1))
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	_, _ = w.Write(data)
}

// noteReferrers makes n small, real referrer manifests of subject (the
// listing's entries and the manifests by digest).
func noteReferrers(subject ocispec.Descriptor, n int) ([]ocispec.Descriptor, map[string][]byte) {
	var entries []ocispec.Descriptor
	manifests := map[string][]byte{}
	for i := range n {
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example.note",
			Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{ocispec.DescriptorEmptyJSON}, Subject: &subject,
			Annotations: map[string]string{"n": strconv.Itoa(i)}}
		m.SchemaVersion = 2
		data, _ := json.Marshal(m)
		d := content.NewDescriptorFromBytes(m.MediaType, data)
		d.ArtifactType = m.ArtifactType
		entries = append(entries, d)
		manifests[d.Digest.String()] = data
	}
	return entries, manifests
}

// pagesOf serves entries in pages of size (all in one when size is 0).
func pagesOf(entries []ocispec.Descriptor, size int) func(int) ([]ocispec.Descriptor, bool) {
	return func(n int) ([]ocispec.Descriptor, bool) {
		if size == 0 {
			return entries, false
		}
		lo, hi := min(n*size, len(entries)), min((n+1)*size, len(entries))
		return entries[lo:hi], hi < len(entries)
	}
}

// Endless referrer listings (pages with a link to one more, empty or
// listing the same entries again, or too slow) end in an error naming
// the registry and the bound, in a listing and in every walk of the
// graph (verify, discover, pull and copy walk it with Discover).
func TestEndlessReferrerListings(t *testing.T) {
	dup, _ := noteReferrers(ocispec.Descriptor{Digest: digest.FromString("other")}, 500)
	for _, tc := range []struct {
		name   string
		page   func(int) ([]ocispec.Descriptor, bool)
		delay  time.Duration
		o      oci.Options
		limits oci.ListLimits
		want   string
		served int64 // pages the registry served, when known
	}{
		{"empty pages", func(int) ([]ocispec.Descriptor, bool) { return nil, true }, 0, oci.Options{MaxReferrerPages: 50}, oci.ListLimits{},
			"goes on for more than 50 pages", 50},
		{"empty pages, default bound", func(int) ([]ocispec.Descriptor, bool) { return nil, true }, 0, oci.Options{}, oci.ListLimits{},
			fmt.Sprintf("goes on for more than %d pages", oci.DefaultMaxReferrerPages), oci.DefaultMaxReferrerPages},
		{"the same few entries on every page", func(int) ([]ocispec.Descriptor, bool) { return dup[:3], true }, 0, oci.Options{MaxReferrerPages: 50}, oci.ListLimits{},
			"goes on for more than 50 pages", 50},
		{"the same 500 entries on every page", func(int) ([]ocispec.Descriptor, bool) { return dup, true }, 0, oci.Options{}, oci.ListLimits{},
			fmt.Sprintf("has more than %d entries (", oci.DefaultMaxReferrers), int64(oci.DefaultMaxReferrers/500 + 1)},
		{"slow empty pages", func(int) ([]ocispec.Descriptor, bool) { return nil, true }, 20 * time.Millisecond, oci.Options{}, oci.ListLimits{Time: 300 * time.Millisecond},
			"timed out after 300ms listing the referrers of sha256:", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pagedListing{page: tc.page, delay: tc.delay}
			host, arm := hostileRegistry(t, p.bad, p.serve)
			s := storeAt(t, host, tc.o)
			image := pushImage(t, s, "endless")
			arm()
			for _, op := range []struct {
				name string
				run  func(context.Context) error
			}{
				{"list", func(ctx context.Context) error {
					_, err := oci.ListReferrersWithin(ctx, s, image, "", tc.limits)
					return err
				}},
				{"discover", func(ctx context.Context) error {
					_, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{MaxListTime: tc.limits.Time})
					return err
				}},
				{"discover and gather", func(ctx context.Context) error {
					_, _, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{MaxListTime: tc.limits.Time}, 0)
					return err
				}},
			} {
				p.served.Store(0)
				start := time.Now()
				err := op.run(t.Context())
				elapsed := time.Since(start)
				if err == nil {
					t.Fatalf("%s: no error", op.name)
				}
				if want := "registry " + host + ": "; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: %q does not say %q and %q", op.name, err, want, tc.want)
				}
				if tc.served > 0 && p.served.Load() != tc.served {
					t.Errorf("%s: the registry served %d pages, want %d", op.name, p.served.Load(), tc.served)
				}
				if tc.limits.Time > 0 && elapsed > tc.limits.Time+time.Second {
					t.Errorf("%s: took %v, bound %v", op.name, elapsed, tc.limits.Time)
				}
				t.Logf("%s: %v (%d pages, %v)", op.name, err, p.served.Load(), elapsed.Round(time.Millisecond))
			}
		})
	}
}

// The documented limit is "more than DefaultMaxReferrers is an error":
// exactly that many referrers are listed and walked, one more is refused,
// whether they come in one page or in pages of 100.
func TestReferrerLimitIsInclusive(t *testing.T) {
	for _, tc := range []struct {
		n, pageSize int
		ok          bool
	}{
		{oci.DefaultMaxReferrers, 0, true},
		{oci.DefaultMaxReferrers + 1, 0, false},
		{oci.DefaultMaxReferrers, 100, true},
		{oci.DefaultMaxReferrers + 1, 100, false},
	} {
		t.Run(fmt.Sprintf("%d in pages of %d", tc.n, tc.pageSize), func(t *testing.T) {
			p := &pagedListing{}
			host, arm := hostileRegistry(t, p.bad, p.serve)
			s := storeAt(t, host, oci.Options{})
			image := pushImage(t, s, "crowded")
			entries, manifests := noteReferrers(image, tc.n)
			p.page, p.manifests, p.subject = pagesOf(entries, tc.pageSize), manifests, image.Digest.String()
			arm()
			want := fmt.Sprintf("registry %s: %s has more than %d referrers", host, image.Digest, oci.DefaultMaxReferrers)
			list, err := oci.ListReferrers(t.Context(), s, image, "", 0)
			switch {
			case tc.ok && (err != nil || len(list) != tc.n):
				t.Fatalf("list: %d referrers, %v", len(list), err)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), want)):
				t.Fatalf("list: %v, want %q", err, want)
			}
			if tc.pageSize != 0 {
				return // the walk lists through ListReferrers: once is enough
			}
			// Every referrer's manifest is read; their own referrers are not
			// listed (10,000 more requests, without a bound in question).
			start := time.Now()
			g, err := oci.Discover(t.Context(), s, image, oci.DiscoverOptions{Follow: func(*oci.Node) bool { return false }})
			switch {
			case tc.ok && err != nil:
				t.Fatalf("discover: %v", err)
			case tc.ok:
				var problems int
				for _, c := range g.Referrers {
					if c.Problem != "" {
						problems++
					}
				}
				if len(g.Referrers) != tc.n || problems != 0 {
					t.Fatalf("discover: %d referrers, %d with a problem", len(g.Referrers), problems)
				}
			case err == nil || !strings.Contains(err.Error(), want):
				t.Fatalf("discover: %v, want %q", err, want)
			}
			t.Logf("discover: %v, %v", err, time.Since(start).Round(time.Millisecond))
		})
	}
}

// The limit on the whole graph counts referrers, not the image: a graph
// of exactly MaxNodes referrers (here under two parents) is walked.
func TestGraphLimitCountsReferrers(t *testing.T) {
	p := &pagedListing{}
	host, arm := hostileRegistry(t, p.bad, p.serve)
	s := storeAt(t, host, oci.Options{})
	image := pushImage(t, s, "graph")
	top, manifests := noteReferrers(image, 3)
	below, more := noteReferrers(top[0], 2)
	for k, v := range more {
		manifests[k] = v
	}
	p.manifests = manifests
	p.bySubject = map[string][]ocispec.Descriptor{image.Digest.String(): top, top[0].Digest.String(): below}
	arm()
	g, err := oci.Discover(t.Context(), s, image, oci.DiscoverOptions{MaxNodes: 5})
	if err != nil {
		t.Fatalf("a graph of exactly MaxNodes referrers: %v", err)
	}
	if sub := findNodes(g, top[0].Digest.String()); len(g.Referrers) != 3 || len(sub) != 1 || len(sub[0].Referrers) != 2 {
		t.Fatalf("walked %d referrers of the image, %v below the first", len(g.Referrers), sub)
	}
	if _, err := oci.Discover(t.Context(), s, image, oci.DiscoverOptions{MaxNodes: 4}); err == nil || !strings.Contains(err.Error(), "more than 4 manifests") {
		t.Fatalf("a graph over MaxNodes: %v", err)
	}
}

// A page of the referrers listing larger than the manifest size limit
// (referee stops reading there) is refused, naming the bound and the
// flag that raises it: 10,000 referee referrers in one page are about
// 5.8 MB, more than the default 4 MiB.
func TestReferrerPageOverSizeLimit(t *testing.T) {
	p := &pagedListing{}
	host, arm := hostileRegistry(t, p.bad, p.serve)
	s := storeAt(t, host, oci.Options{MaxManifestBytes: 64 << 10})
	image := pushImage(t, s, "big page")
	entries, _ := noteReferrers(image, 1000)
	p.page, p.subject = pagesOf(entries, 0), image.Digest.String()
	arm()
	want := fmt.Sprintf("registry %s: a page of the referrers listing of %s is larger than the 65536 bytes --max-manifest-size allows", host, image.Digest)
	if _, err := oci.ListReferrers(t.Context(), s, image, "", 0); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%v, want %q", err, want)
	}
}
