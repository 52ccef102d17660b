package oci_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/oci"
)

// blobLiar is go-containerregistry's registry (with or without the
// referrers API) that, once armed, answers GETs of one blob with what
// lie makes of its bytes, claiming the blob's digest; chunked sends no
// Content-Length.
func blobLiar(t *testing.T, referrersAPI bool, dg digest.Digest, lie func([]byte) []byte, chunked bool) (host string, arm func()) {
	t.Helper()
	backend := ggcr.New(ggcr.WithReferrersSupport(referrersAPI), ggcr.Logger(log.New(io.Discard, "", 0)))
	var armed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+dg.String()) {
			backend.ServeHTTP(w, r)
			return
		}
		if !armed.Load() {
			backend.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		backend.ServeHTTP(rec, r)
		body := lie(rec.Body.Bytes())
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Docker-Content-Digest", dg.String())
		if chunked {
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() { armed.Store(true) }
}

// TestArtifactRegistryLies: a registry that serves other bytes for an
// artifact's blob (the same length, more, fewer) never has them taken:
// Artifact says the bytes are not the blob (fs.ErrNotExist), Used stays
// empty, and pull writes nothing for it.
func TestArtifactRegistryLies(t *testing.T) {
	dg := digest.FromBytes(report)
	for _, api := range []bool{true, false} {
		for _, c := range []struct {
			name    string
			lie     func([]byte) []byte
			chunked bool
			msg     string
		}{
			{"other bytes", func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("LOW"), []byte("NIL")) }, false, "the registry's bytes for " + dg.String() + " hash to sha256 "},
			{"more bytes", func(b []byte) []byte { return append(b, ' ') }, false, "the registry answered for " + dg.String() + " with another size than the 62 its manifest says"},
			{"fewer bytes", func(b []byte) []byte { return b[:len(b)-1] }, false, "with another size than the 62"},
			{"more bytes, no length", func(b []byte) []byte { return append(b, ' ') }, true, "the registry sent more bytes for " + dg.String() + ", not the 62 its manifest says"},
			{"fewer bytes, no length", func(b []byte) []byte { return b[:len(b)-1] }, true, "the registry sent 61 bytes for " + dg.String() + ", not the 62"},
		} {
			t.Run(c.name+map[bool]string{true: " referrers-api", false: " tag-schema"}[api], func(t *testing.T) {
				ctx := context.Background()
				host, arm := blobLiar(t, api, dg, c.lie, c.chunked)
				s := open(t, host+"/app")
				image := pushImage(t, s, "app")
				a, err := oci.AttachArtifact(ctx, s, image, "vulnerability-report.json", report, oci.ArtifactOptions{})
				if err != nil {
					t.Fatal(err)
				}
				arm()
				graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
				if err != nil {
					t.Fatal(err)
				}
				fromListing, err := oci.NewArtifactSet(ctx, s, image, oci.ArtifactSetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for name, set := range map[string]*oci.ArtifactSet{"graph": oci.ArtifactsOf(s, graph, oci.ArtifactSetOptions{}), "listing": fromListing} {
					got, err := set.Artifact(ctx, "vulnerability-report.json", dg.Encoded())
					if got != nil || err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), a.Manifest.Digest.String()) {
						t.Fatalf("%s: got %q, %v", name, got, err)
					}
					if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), c.msg) {
						t.Errorf("%s: %v, want %q", name, err, c.msg)
					}
					if len(set.Used()) != 0 {
						t.Errorf("%s: used %v", name, set.Used())
					}
					dir := t.TempDir()
					res := &oci.PullResult{}
					err = set.WriteFiles(ctx, dir, res)
					if (err == nil) == (len(res.Skipped) == 0) || len(res.Files) != 0 {
						t.Errorf("%s: pull: %v, %+v", name, err, res)
					}
				}
			})
		}
	}
}

// TestArtifactListingLies: a tag-schema index (anyone who can push can
// forge it) lists an artifact referrer with another path and another
// blob than its manifest has, and a manifest of another image: the set
// built from the listing reads the manifest before any blob and refuses
// them; the set built from the graph knows the artifact by its manifest.
func TestArtifactListingLies(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "tag-schema"))
	image := pushImage(t, s, "app")
	other := pushImage(t, s, "another image")
	a, err := oci.AttachArtifact(ctx, s, image, "vulnerability-report.json", report, oci.ArtifactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clean := []byte(`{"vulnerabilities":[]}`)
	foreign, err := oci.AttachArtifact(ctx, s, other, "clean.json", clean, oci.ArtifactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	renamed := a.Manifest
	renamed.Annotations = map[string]string{oci.AnnotationKind: oci.KindArtifact, oci.AnnotationTitle: "other.json", oci.AnnotationEnvelopeDigest: digest.FromBytes(report).String()}
	reblobbed := a.Manifest
	reblobbed.Annotations = map[string]string{oci.AnnotationKind: oci.KindArtifact, oci.AnnotationTitle: "vulnerability-report.json", oci.AnnotationEnvelopeDigest: digest.FromBytes(clean).String()}
	for _, c := range []struct {
		listed ocispec.Descriptor
		path   string
		data   []byte
		msg    string
	}{
		{renamed, "other.json", report, "listed with path other.json, but its manifest names vulnerability-report.json"},
		{reblobbed, "vulnerability-report.json", clean, "listed with blob " + digest.FromBytes(clean).String() + ", but its manifest names " + digest.FromBytes(report).String()},
		{foreign.Manifest, "clean.json", clean, "its manifest names another subject"},
	} {
		forgeTagIndex(t, s, image, []ocispec.Descriptor{c.listed})
		set, err := oci.NewArtifactSet(ctx, s, image, oci.ArtifactSetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = set.Artifact(ctx, c.path, sha256hex(c.data))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %q", c.path, err, c.msg)
		}
		if len(set.Used()) != 0 {
			t.Errorf("used %v", set.Used())
		}
	}
	forgeTagIndex(t, s, image, []ocispec.Descriptor{renamed, foreign.Manifest})
	graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fromGraph := oci.ArtifactsOf(s, graph, oci.ArtifactSetOptions{})
	if p := fromGraph.Paths(); len(p) != 1 || p[0].Path != "vulnerability-report.json" {
		t.Fatalf("graph: %+v", p)
	}
	if _, err := fromGraph.Artifact(ctx, "other.json", sha256hex(report)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("graph, other.json: %v", err)
	}
	if got, err := fromGraph.Artifact(ctx, "vulnerability-report.json", sha256hex(report)); err != nil || !bytes.Equal(got, report) {
		t.Errorf("graph: %q, %v", got, err)
	}
}

// TestArtifactHostileReferrers: artifact referrers pushed as anyone can
// (not through AttachArtifact) with a path that is absolute, leaves the
// directory or has a NUL, whose manifest and layer name different paths,
// or with two layers, are shown with their problem, never offered by an
// ArtifactSet and never written by pull.
func TestArtifactHostileReferrers(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"referrers-api", "tag-schema"} {
		t.Run(kind, func(t *testing.T) {
			s := open(t, newStore(t, kind))
			image := pushImage(t, s, "app")
			var paths []string
			for _, c := range []struct{ layerTitle, manifestTitle, problem string }{
				{"../../etc/cron.d/evil", "", "leaves the directory"},
				{"/etc/passwd", "", "is absolute"},
				{"a\x00b", "", "has a NUL or backslash"},
				{"x/../../evil", "", "is not normalised"},
				{"report.json", "elsewhere.json", "whose manifest names path elsewhere.json and whose layer names report.json"},
			} {
				paths = append(paths, c.layerTitle)
				ann := map[string]string{oci.AnnotationKind: oci.KindArtifact}
				if c.manifestTitle != "" {
					ann[oci.AnnotationTitle] = c.manifestTitle
				}
				r, err := oci.AttachReferrer(ctx, s, image, oci.Referrer{ArtifactType: oci.ArtifactTypeArtifact, LayerMediaType: oci.MediaTypeArtifactLayer, Data: []byte(c.layerTitle), Title: c.layerTitle, Annotations: ann})
				if err != nil {
					t.Fatal(err)
				}
				graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
				if err != nil {
					t.Fatal(err)
				}
				n := findNodes(graph, r.Manifest.Digest.String())
				if len(n) != 1 || n[0].Artifact != nil || !strings.Contains(n[0].Problem, c.problem) {
					t.Errorf("%q: discover %+v", c.layerTitle, n)
				}
			}
			two, err := oras.PushBytes(ctx, s, oci.MediaTypeArtifactLayer, []byte("second"))
			if err != nil {
				t.Fatal(err)
			}
			first, _ := oras.PushBytes(ctx, s, oci.MediaTypeArtifactLayer, report)
			first.Annotations = map[string]string{oci.AnnotationTitle: "two.json"}
			twoLayers, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, oci.ArtifactTypeArtifact, oras.PackManifestOptions{Subject: &image, Layers: []ocispec.Descriptor{first, two}})
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, "two.json")
			graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if n := findNodes(graph, twoLayers.Digest.String()); len(n) != 1 || !strings.Contains(n[0].Problem, "an artifact referrer with 2 layers, not one") {
				t.Errorf("two layers: %+v", n)
			}
			listed, err := oci.NewArtifactSet(ctx, s, image, oci.ArtifactSetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for name, set := range map[string]*oci.ArtifactSet{"graph": oci.ArtifactsOf(s, graph, oci.ArtifactSetOptions{}), "listing": listed} {
				// The listing's claims are offered unconfirmed (Size -1),
				// and refused once the manifest is read.
				for _, p := range set.Paths() {
					if name == "graph" || p.Size != -1 {
						t.Errorf("%s offers %+v", name, p)
					}
				}
				for _, p := range append(paths, "elsewhere.json") {
					if _, err := set.Artifact(ctx, p, sha256hex([]byte(p))); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s, %q: %v", name, p, err)
					}
				}
				if _, err := set.Artifact(ctx, "elsewhere.json", sha256hex([]byte("report.json"))); !errors.Is(err, fs.ErrNotExist) || (name == "listing" && !strings.Contains(err.Error(), "whose manifest names path elsewhere.json and whose layer names report.json")) {
					t.Errorf("%s, the listing's claim: %v", name, err)
				}
				dir := t.TempDir() + "/out/in"
				res := &oci.PullResult{}
				if err := set.WriteFiles(ctx, dir, res); err != nil || len(res.Files) != 0 {
					t.Errorf("%s: pull %+v, %v", name, res, err)
				}
			}
		})
	}
}

// TestArtifactBounds: an artifact over ArtifactSetOptions.MaxBytes, or one
// whose manifest claims a huge layer, is refused without its blob being
// requested; the artifacts read through one set are bounded in total, each
// blob counted once.
func TestArtifactBounds(t *testing.T) {
	ctx := context.Background()
	be := newBackend(t, true)
	s := open(t, be.host+"/app")
	image := pushImage(t, s, "app")
	if _, err := oci.AttachArtifact(ctx, s, image, "report.json", report, oci.ArtifactOptions{}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 4096)
	if _, err := oci.AttachArtifact(ctx, s, image, "big.bin", big, oci.ArtifactOptions{}); err != nil {
		t.Fatal(err)
	}
	// A manifest whose layer claims a terabyte (the blob is small).
	small, err := oras.PushBytes(ctx, s, oci.MediaTypeArtifactLayer, []byte("small"))
	if err != nil {
		t.Fatal(err)
	}
	huge := small
	huge.Size = 1 << 40
	huge.Annotations = map[string]string{oci.AnnotationTitle: "huge.bin"}
	if _, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, oci.ArtifactTypeArtifact, oras.PackManifestOptions{Subject: &image, Layers: []ocispec.Descriptor{huge}}); err != nil {
		t.Fatal(err)
	}
	graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	be.records(true)
	set := oci.ArtifactsOf(s, graph, oci.ArtifactSetOptions{MaxBytes: 1024, MaxTotalBytes: int64(len(report)) + 10})
	for _, c := range []struct {
		path string
		sha  string
		msg  string
	}{
		{"big.bin", sha256hex(big), "artifact big.bin (referrer sha256:"},
		{"huge.bin", small.Digest.Encoded(), "is 1099511627776 bytes, more than the 1024 allowed"},
	} {
		_, err := set.Artifact(ctx, c.path, c.sha)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "more than the 1024 allowed") {
			t.Errorf("%s: %v", c.path, err)
		}
	}
	for _, r := range be.records(false) {
		if strings.Contains(r.Path, "/blobs/") {
			t.Errorf("a refused blob was requested: %s %s", r.Method, r.Path)
		}
	}
	if _, err := set.Artifact(ctx, "report.json", sha256hex(report)); err != nil {
		t.Fatal(err)
	}
	// Read again (another inspection), it is counted once: still within
	// the total (TestArtifactCountedOnce refuses another file past it).
	if _, err := set.Artifact(ctx, "report.json", sha256hex(report)); err != nil {
		t.Errorf("read again: %v", err)
	}
}

// TestGatherLeavesArtifactsUnread: verification's walk reads artifact
// referrers' manifests only: their blobs (files, not envelopes) are not
// fetched, not even ahead by the listed layer digest.
func TestGatherLeavesArtifactsUnread(t *testing.T) {
	ctx := context.Background()
	be := newBackend(t, true)
	s := open(t, be.host+"/app")
	image := pushImage(t, s, "app")
	// A title ending in .link, as other tools' in-toto files are named.
	if _, err := oci.AttachArtifact(ctx, s, image, "build.12345678.link", report, oci.ArtifactOptions{}); err != nil {
		t.Fatal(err)
	}
	be.records(true)
	_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Links)+len(b.Layouts)+len(b.Skipped) != 0 {
		t.Errorf("gathered %+v", b)
	}
	time.Sleep(10 * time.Millisecond)
	for _, r := range be.records(false) {
		if strings.Contains(r.Path, "/blobs/"+digest.FromBytes(report).String()) {
			t.Errorf("the artifact's blob was fetched: %s %s", r.Method, r.Path)
		}
	}
}
