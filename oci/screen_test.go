package oci_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// bigDoc is the size of a large document: over the 1 MiB up to which
// untrusted documents are kept for the report.
const bigDoc = 2 << 20

// trustChain is an owner's layout with one step, "build", whose
// functionary is f, and mallory, whom nobody authorises.
type trustChain struct {
	owner, f, mallory *attest.Signer
	layout            []byte
	layoutEnv         *attest.Envelope
}

func newTrustChain(t testing.TB) *trustChain {
	t.Helper()
	c := &trustChain{}
	c.owner, _ = attest.GenerateKey("")
	c.f, _ = attest.GenerateKey("")
	c.mallory, _ = attest.GenerateKey("")
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{c.f.Key().KeyID: c.f.Key()}}
	l.Steps = []attest.Step{{Name: "build", Threshold: 1, PubKeys: []string{c.f.Key().KeyID}}}
	c.layout = sign(t, attest.FormDSSE, must(l.Marshal()), c.owner)
	c.layoutEnv = parseEnvelope(t, c.layout)
	return c
}

func (c *trustChain) trust() *oci.Trust { return &oci.Trust{Keys: []*attest.Key{c.owner.Key()}} }

// dsseJSON writes a DSSE envelope by hand: payload encoded with enc (and
// "/" escaped as "\/" when escape is set), signatures as given.
func dsseJSON(t testing.TB, payload []byte, enc *base64.Encoding, escape bool, sigs ...attest.Signature) []byte {
	t.Helper()
	p64 := enc.EncodeToString(payload)
	if escape {
		p64 = strings.ReplaceAll(p64, "/", `\/`)
	}
	var sj []string
	for _, s := range sigs {
		sj = append(sj, fmt.Sprintf(`{"keyid":%q,"sig":%q}`, s.KeyID, base64.StdEncoding.EncodeToString(s.Sig)))
	}
	if sj == nil {
		sj = []string{}
	}
	return fmt.Appendf(nil, `{"payloadType":%q,"payload":"%s","signatures":[%s]}`, attest.PayloadType, p64, strings.Join(sj, ","))
}

// signatures signs payload (DSSE) with each signer.
func signatures(t testing.TB, payload []byte, signers ...*attest.Signer) []attest.Signature {
	t.Helper()
	env, err := attest.SignPayload(attest.FormDSSE, payload, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return env.Signatures
}

// bigPayload is a valid link payload of step of about size bytes.
func bigPayload(t testing.TB, step string, size int) []byte {
	return parseEnvelope(t, testenv.BigLink(t, step, size*4/3)).Payload
}

// attachForeign attaches data as another tool would (oras attach
// --artifact-type application/vnd.in-toto+json).
func attachForeign(t testing.TB, s oci.Store, subject ocispec.Descriptor, data []byte) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, s, "application/vnd.in-toto+json", data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "application/vnd.in-toto+json", oras.PackManifestOptions{Subject: &subject, Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// docsOf returns the links and layouts gathered from referrer d.
func docsOf(b *oci.Bundle, d ocispec.Descriptor) []*oci.Document {
	var out []*oci.Document
	for _, doc := range append(append([]*oci.Document{}, b.Layouts...), b.Links...) {
		if doc.Referrer.Digest == d.Digest.String() {
			out = append(out, doc)
		}
	}
	return out
}

func skippedOf(b *oci.Bundle, d ocispec.Descriptor) []string {
	var out []string
	for _, sk := range b.Skipped {
		if sk.Digest == d.Digest.String() {
			out = append(out, sk.Reason)
		}
	}
	return out
}

// With a Trust, a document is kept whatever its size only if a trusted
// key signed it; large others are dropped unread and reported, small
// others kept so that verification can say why they do not count, and
// another tool's in-toto Statement is ignored as before. What the screen
// checks is what attest checks: the base64 forms DSSE allows.
func TestTrustKeepsLargeDocumentsOnlyWhenSigned(t *testing.T) {
	c := newTrustChain(t)
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	big := bigPayload(t, "build", bigDoc)
	statement := fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"%s"}}],"predicateType":"https://example.com/sbom","predicate":{"data":"%s"}}`, strings.Repeat("ab", 32), strings.Repeat("a", bigDoc))
	small := must((&attest.Link{Name: "build", Products: map[string]attest.HashObj{"app.tar": {"sha256": strings.Repeat("cd", 32)}}}).Marshal())
	wrongKeyID := signatures(t, big, c.mallory)
	wrongKeyID[0].KeyID = c.f.Key().KeyID
	noKeyID := signatures(t, big, c.mallory)
	noKeyID[0].KeyID = ""
	fNoKeyID := signatures(t, big, c.f)
	fNoKeyID[0].KeyID = ""
	fCurrentID := signatures(t, big, c.f)
	fCurrentID[0].KeyID = c.f.Key().CurrentID() // current in-toto's keyid of the same key
	const (
		kept    = "kept"
		dropped = "dropped"
		ignored = "ignored"
	)
	for _, tc := range []struct {
		name    string
		data    []byte
		foreign bool
		want    string
		reason  []string
	}{
		{"large unsigned link", dsseJSON(t, big, base64.StdEncoding, false), false, dropped, []string{"not read", "MiB", "no signatures"}},
		{"large link by an unknown key", dsseJSON(t, big, base64.StdEncoding, false, signatures(t, big, c.mallory)...), false, dropped, []string{"not signed by a layout key", `"` + c.mallory.Key().KeyID[:8] + `"`}},
		{"large link claiming the functionary's key", dsseJSON(t, big, base64.StdEncoding, false, wrongKeyID...), false, dropped, []string{"not read", c.f.Key().KeyID[:8]}},
		{"large link signed without a keyid, not by the functionary", dsseJSON(t, big, base64.StdEncoding, false, noKeyID...), false, dropped, []string{"not read"}},
		{"large Metablock link, unsigned", must(attest.NewEnvelope(attest.FormMetablock, big).Marshal()), false, dropped, []string{"no signatures"}},
		{"large Metablock link by an unknown key", sign(t, attest.FormMetablock, big, c.mallory), false, dropped, []string{c.mallory.Key().KeyID[:8]}},
		{"large link by an unknown key, attached by another tool", dsseJSON(t, big, base64.StdEncoding, false, signatures(t, big, c.mallory)...), true, dropped, []string{"not read"}},
		{"large Statement by an unknown key, attached by another tool", dsseJSON(t, statement, base64.StdEncoding, false, signatures(t, statement, c.mallory)...), true, ignored, nil},
		{"large link by the functionary", dsseJSON(t, big, base64.StdEncoding, false, signatures(t, big, c.f)...), false, kept, nil},
		{"large link by the functionary, URL-safe base64", dsseJSON(t, big, base64.URLEncoding, false, signatures(t, big, c.f)...), false, kept, nil},
		{"large link by the functionary, unpadded base64", dsseJSON(t, big, base64.RawStdEncoding, false, signatures(t, big, c.f)...), false, kept, nil},
		{"large link by the functionary, escaped slashes", dsseJSON(t, big, base64.StdEncoding, true, signatures(t, big, c.f)...), false, kept, nil},
		{"large link by the functionary under its current in-toto keyid", dsseJSON(t, big, base64.StdEncoding, false, fCurrentID...), false, kept, nil},
		{"large link by the functionary without a keyid", dsseJSON(t, big, base64.StdEncoding, false, fNoKeyID...), false, kept, nil},
		{"large Metablock link by the functionary", sign(t, attest.FormMetablock, big, c.f), false, kept, nil},
		{"large link by the functionary, attached by another tool", dsseJSON(t, big, base64.StdEncoding, false, signatures(t, big, c.f)...), true, kept, nil},
		{"large JSON that is no envelope, attached by another tool", fmt.Appendf(nil, `{"sbom":"%s"}`, strings.Repeat("a", bigDoc)), true, ignored, nil},
		{"large JSON that is no envelope, as referee's link", fmt.Appendf(nil, `{"sbom":"%s"}`, strings.Repeat("a", bigDoc)), false, dropped, []string{"not a signed in-toto document"}},
		{"small unsigned link", dsseJSON(t, small, base64.StdEncoding, false), false, kept, nil},
		{"small link by an unknown key", sign(t, attest.FormDSSE, small, c.mallory), false, kept, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			image := pushImage(t, s, tc.name)
			if _, err := oci.Attach(ctx, s, image, c.layout, oci.AttachOptions{}); err != nil {
				t.Fatal(err)
			}
			var ref ocispec.Descriptor
			if tc.foreign {
				ref = attachForeign(t, s, image, tc.data)
			} else {
				ref = testenv.AttachRaw(t, s, image, "build", tc.data)
			}
			_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{Trust: c.trust()}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Release()
			if len(b.Layouts) != 1 {
				t.Fatalf("layouts %d", len(b.Layouts))
			}
			docs, skipped := docsOf(b, ref), skippedOf(b, ref)
			switch tc.want {
			case kept:
				if len(docs) != 1 || docs[0].Kind != "link" || docs[0].Step != "build" || docs[0].Raw != nil || len(skipped) != 0 {
					t.Fatalf("want the link kept (without its raw bytes); docs %+v, skipped %q", docs, skipped)
				}
			case ignored:
				if len(docs) != 0 || len(skipped) != 0 {
					t.Fatalf("want it ignored; docs %+v, skipped %q", docs, skipped)
				}
			case dropped:
				if len(docs) != 0 || len(skipped) != 1 {
					t.Fatalf("want it dropped and reported; docs %+v, skipped %q", docs, skipped)
				}
				for _, w := range append(tc.reason, "layer sha256:") {
					if !strings.Contains(skipped[0], w) || strings.Contains(skipped[0], "\n") {
						t.Errorf("reason %q: want one line with %q", skipped[0], w)
					}
				}
			}
		})
	}
}

// Without a Trust (pull), every document is kept as before, raw bytes
// included.
func TestNoTrustKeepsEverything(t *testing.T) {
	c := newTrustChain(t)
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, s, "img")
	data := testenv.BigLink(t, "build", bigDoc)
	ref := testenv.AttachRaw(t, s, image, "build", data)
	if _, err := oci.Attach(ctx, s, image, c.layout, oci.AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if docs := docsOf(b, ref); len(docs) != 1 || string(docs[0].Raw) != string(data) || len(b.Skipped) != 0 {
		t.Fatalf("docs %+v, skipped %+v", docs, b.Skipped)
	}
}

// Trust follows the keys down: a sublayout signed by the functionary
// names its own functionary, whose large links below it are kept; a
// layout given beside the store (--layout) is trusted when a layout key
// signed it, and only then.
func TestTrustFollowsLayoutKeys(t *testing.T) {
	c := newTrustChain(t)
	ctx := context.Background()
	g, _ := attest.GenerateKey("")
	sub := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{g.Key().KeyID: g.Key()}}
	sub.Steps = []attest.Step{{Name: "compile", Threshold: 1, PubKeys: []string{g.Key().KeyID}}}
	subEnv := sign(t, attest.FormDSSE, must(sub.Marshal()), c.f)
	big := bigPayload(t, "compile", bigDoc)

	t.Run("sublayout", func(t *testing.T) {
		s := open(t, newStore(t, "referrers-api"))
		image := pushImage(t, s, "img")
		if _, err := oci.Attach(ctx, s, image, c.layout, oci.AttachOptions{}); err != nil {
			t.Fatal(err)
		}
		sl, err := oci.Attach(ctx, s, image, subEnv, oci.AttachOptions{Step: "build"})
		if err != nil {
			t.Fatal(err)
		}
		byG := testenv.AttachRaw(t, s, sl.Manifest, "compile", dsseJSON(t, big, base64.StdEncoding, false, signatures(t, big, g)...))
		byMallory := testenv.AttachRaw(t, s, sl.Manifest, "compile", dsseJSON(t, big, base64.StdEncoding, false, signatures(t, big, c.mallory)...))
		_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{Trust: c.trust()}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Links) != 1 || b.Links[0].Kind != "layout" || len(b.Links[0].Sub) != 1 || b.Links[0].Sub[0].Referrer.Digest != byG.Digest.String() {
			t.Fatalf("links %+v", b.Links)
		}
		if sk := skippedOf(b, byMallory); len(sk) != 1 {
			t.Errorf("mallory's link: skipped %q", sk)
		}
	})
	for _, tc := range []struct {
		name   string
		pinned []byte
		kept   bool
	}{
		{"pinned layout signed by the owner", c.layout, true},
		{"pinned layout signed by mallory", sign(t, attest.FormDSSE, c.layoutEnv.Payload, c.mallory), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, newStore(t, "referrers-api"))
			image := pushImage(t, s, "img")
			bigBuild := bigPayload(t, "build", bigDoc)
			ref := testenv.AttachRaw(t, s, image, "build", dsseJSON(t, bigBuild, base64.StdEncoding, false, signatures(t, bigBuild, c.f)...))
			trust := c.trust()
			trust.Layouts = []*attest.Envelope{parseEnvelope(t, tc.pinned)}
			_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{Trust: trust}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(docsOf(b, ref)) == 1; got != tc.kept {
				t.Fatalf("kept %v, want %v; skipped %+v", got, tc.kept, b.Skipped)
			}
		})
	}
}

// A large trusted link that arrives before the layout naming its key is
// dropped, then fetched again once the layout is in, and kept; an
// untrusted one is not fetched again.
func TestTrustFetchesAgainWhatCameBeforeItsLayout(t *testing.T) {
	c := newTrustChain(t)
	ctx := context.Background()
	proxy := newSlowBlobs(t, digest.FromBytes(c.layout).String(), 500*time.Millisecond)
	s := open(t, proxy.host+"/app")
	image := pushImage(t, s, "img")
	if _, err := oci.Attach(ctx, s, image, c.layout, oci.AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	big := bigPayload(t, "build", bigDoc)
	good := dsseJSON(t, big, base64.StdEncoding, false, signatures(t, big, c.f)...)
	bad := dsseJSON(t, big, base64.StdEncoding, false, signatures(t, big, c.mallory)...)
	goodRef := testenv.AttachRaw(t, s, image, "build", good)
	badRef := testenv.AttachRaw(t, s, image, "build", bad)
	proxy.reset()
	_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{Trust: c.trust()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(docsOf(b, goodRef)) != 1 || len(skippedOf(b, badRef)) != 1 {
		t.Fatalf("links %+v, skipped %+v", b.Links, b.Skipped)
	}
	if n, m := proxy.gets(digest.FromBytes(good).String()), proxy.gets(digest.FromBytes(bad).String()); n != 2 || m != 1 {
		t.Errorf("the functionary's link fetched %d times (want 2, before and after the layout), mallory's %d (want 1)", n, m)
	}
}

// slowBlobs is go-containerregistry's registry behind a proxy that delays
// the fetches of one blob and counts the fetches of each. Its referrers
// listings carry no envelopes (oci.AnnotationEnvelopeData), as for
// referrers attached before referee wrote them, so that every envelope is
// a blob fetched.
type slowBlobs struct {
	host  string
	mu    sync.Mutex
	count map[string]int
}

func newSlowBlobs(t testing.TB, slow string, delay time.Duration) *slowBlobs {
	t.Helper()
	p := &slowBlobs{count: map[string]int{}}
	reg := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := strings.LastIndex(r.URL.Path, "/blobs/"); i >= 0 && r.Method == http.MethodGet {
			dg := r.URL.Path[i+len("/blobs/"):]
			p.mu.Lock()
			p.count[dg]++
			p.mu.Unlock()
			if dg == slow {
				time.Sleep(delay)
			}
		}
		if strings.Contains(r.URL.Path, "/referrers/") {
			serveWithoutCarried(t, w, r, reg)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

func (p *slowBlobs) gets(dg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[dg]
}

func (p *slowBlobs) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count = map[string]int{}
}

func parseEnvelope(tb testing.TB, data []byte) *attest.Envelope {
	tb.Helper()
	env, err := attest.ParseEnvelope(data)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// serveWithoutCarried serves r from h with the envelopes a referrers
// listing carries (oci.AnnotationEnvelopeData) taken out.
func serveWithoutCarried(t testing.TB, w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	var index ocispec.Index
	if rec.Code == http.StatusOK && json.Unmarshal(body, &index) == nil {
		for _, d := range index.Manifests {
			delete(d.Annotations, oci.AnnotationEnvelopeData)
		}
		var err error
		if body, err = json.Marshal(index); err != nil {
			t.Error(err)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}
