package verify_test

// Helpers for the tests of verification from a registry (image_test.go,
// threats_test.go): go-containerregistry's real registry in-process (with
// or without the referrers API), images, a signed supply chain bound to an
// image through attest.ImageArtifact, referrers attached by referee or
// hand-made as an attacker would push them, and a proxy that rewrites one
// blob. Names start with tm (threat model) to stay apart from the other
// helpers of the package.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// The registry, store and image helpers are shared with the oci tests.
var (
	tmRegistry      = testenv.Registry
	tmOpen          = testenv.Open
	tmPushImage     = testenv.PushImage
	tmForgeTagIndex = testenv.ForgeTagIndex
)

// tmChain is a supply chain with real keys: bob builds app.tar, alice
// pushes it as the image, and the push step binds the evidence to the
// image (CREATE referee:image-manifest). carol is a functionary the tests
// may authorise; mallory is the attacker, in no layout of the owner's.
type tmChain struct {
	t     testing.TB
	owner *attest.Signer
	keys  map[string]*attest.Signer
}

func newTMChain(t testing.TB) *tmChain {
	t.Helper()
	c := &tmChain{t: t, owner: mustKey(t), keys: map[string]*attest.Signer{}}
	for _, who := range []string{"alice", "bob", "carol", "mallory"} {
		c.keys[who] = mustKey(t)
	}
	return c
}

func (c *tmChain) keyID(who string) string { return c.keys[who].Key().KeyID }

// layout returns a fresh copy of the owner's layout, with builders as the
// functionaries of the build step (threshold 1).
func (c *tmChain) layout(builders ...string) attest.Layout {
	if len(builders) == 0 {
		builders = []string{"bob"}
	}
	l := attest.Layout{
		Expires: time.Now().Add(24 * time.Hour).UTC().Format(attest.TimeFormat),
		Keys:    map[string]*attest.Key{},
	}
	for _, who := range []string{"alice", "bob", "carol"} {
		l.Keys[c.keyID(who)] = c.keys[who].Key()
	}
	build := attest.Step{Name: "build", Threshold: 1, ExpectedProducts: rules(c.t, "CREATE app.tar", "DISALLOW *")}
	for _, b := range builders {
		build.PubKeys = append(build.PubKeys, c.keyID(b))
	}
	push := attest.Step{Name: "push", Threshold: 1, PubKeys: []string{c.keyID("alice")},
		ExpectedMaterials: rules(c.t, "MATCH app.tar WITH PRODUCTS FROM build", "DISALLOW *"),
		ExpectedProducts:  rules(c.t, "CREATE "+attest.ImageArtifact, "DISALLOW *")}
	l.Steps = []attest.Step{build, push}
	return l
}

// signLayout gives l version (when > 0) and signs it (by the owner unless
// signers are given), returning the envelope file.
func (c *tmChain) signLayout(l attest.Layout, version int, signers ...*attest.Signer) []byte {
	c.t.Helper()
	if version > 0 {
		l.SetVersion(version)
	}
	payload, err := l.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	if len(signers) == 0 {
		signers = []*attest.Signer{c.owner}
	}
	return c.envelope(payload, signers...)
}

func (c *tmChain) envelope(payload []byte, signers ...*attest.Signer) []byte {
	c.t.Helper()
	env, err := attest.SignPayload(attest.FormDSSE, payload, signers...)
	if err != nil {
		c.t.Fatal(err)
	}
	data, err := env.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	return data
}

// link signs a link of step by who; cmd tells re-runs apart.
func (c *tmChain) link(step, who string, materials, products map[string]attest.HashObj, cmd ...string) []byte {
	c.t.Helper()
	if len(cmd) == 0 {
		cmd = []string{step}
	}
	l := &attest.Link{Name: step, Command: cmd, Materials: materials, Products: products}
	payload, err := l.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	return c.envelope(payload, c.keys[who])
}

// buildLink is who's link of the build step producing app.tar from tar.
func (c *tmChain) buildLink(who, tar string, cmd ...string) []byte {
	return c.link("build", who, nil, map[string]attest.HashObj{"app.tar": sha(tar)}, cmd...)
}

// pushLink is who's link of the push step: app.tar (tar) in, image out.
func (c *tmChain) pushLink(who, tar string, image ocispec.Descriptor, cmd ...string) []byte {
	return c.link("push", who, map[string]attest.HashObj{"app.tar": sha(tar)}, map[string]attest.HashObj{attest.ImageArtifact: imageHash(image)}, cmd...)
}

// paddedPushLink is alice's push link of image, its stdout padded with
// pad bytes: a link larger than a blob limit.
func (c *tmChain) paddedPushLink(t testing.TB, image ocispec.Descriptor, pad int) []byte {
	t.Helper()
	l := &attest.Link{Name: "push", Command: []string{"push"}, Materials: map[string]attest.HashObj{"app.tar": sha("tar")},
		Products: map[string]attest.HashObj{attest.ImageArtifact: imageHash(image)}, Byproducts: map[string]any{"stdout": strings.Repeat("x", pad)}}
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return c.envelope(payload, c.keys["alice"])
}

func sha(s string) attest.HashObj {
	sum := sha256.Sum256([]byte(s))
	return attest.HashObj{"sha256": hex.EncodeToString(sum[:])}
}

func imageHash(d ocispec.Descriptor) attest.HashObj {
	return attest.HashObj{"sha256": d.Digest.Encoded()}
}

// tmAttach attaches a signed file to subject with referee and returns the
// referrer manifest's descriptor.
func tmAttach(t testing.TB, s oci.Store, subject ocispec.Descriptor, file []byte, o oci.AttachOptions) ocispec.Descriptor {
	t.Helper()
	a, err := oci.Attach(context.Background(), s, subject, file, o)
	if err != nil {
		t.Fatal(err)
	}
	return a.Manifest
}

// tmAttachRaw pushes a referrer of subject as another tool or an attacker
// would: a manifest of the given artifact type and annotations, one layer
// of layerType holding data.
func tmAttachRaw(t testing.TB, s oci.Store, subject ocispec.Descriptor, artifactType, layerType string, data []byte, ann map[string]string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, s, layerType, data)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Subject: &subject, Layers: []ocispec.Descriptor{layer}, ManifestAnnotations: ann,
	})
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// tmVerify verifies image from s with the owner's key.
func (c *tmChain) verify(s oci.Store, image ocispec.Descriptor, o verify.ImageOptions) (*verify.Report, error) {
	c.t.Helper()
	if o.LayoutKeys == nil {
		o.LayoutKeys = []*attest.Key{c.owner.Key()}
	}
	return verify.Image(context.Background(), s, image, o)
}

// wantImagePass requires a verified report about image.
func wantImagePass(t *testing.T, r *verify.Report, err error, image ocispec.Descriptor) {
	t.Helper()
	if err != nil || r == nil || !r.Verified {
		t.Fatalf("want verified, got %v\n%s", err, reportText(r))
	}
	if r.Image != image.Digest.String() {
		t.Fatalf("report is about %s, not %s", r.Image, image.Digest)
	}
}

// wantImageFail requires that verification failed closed: a
// *verify.NotVerifiedError and a report that is not verified, whose text
// (with the error) names every fragment.
func wantImageFail(t *testing.T, r *verify.Report, err error, fragments ...string) string {
	t.Helper()
	var nv *verify.NotVerifiedError
	if !errors.As(err, &nv) {
		t.Fatalf("want a *verify.NotVerifiedError, got %v\n%s", err, reportText(r))
	}
	if r == nil || r.Verified || len(r.Failures) == 0 {
		t.Fatalf("report of a failed verification: %s", reportText(r))
	}
	text := err.Error() + "\n" + reportText(r)
	for _, f := range fragments {
		if !strings.Contains(text, f) {
			t.Errorf("the error and report do not name %q:\n%s", f, text)
		}
	}
	return text
}

// stepOf returns the report of step name.
func stepOf(t *testing.T, r *verify.Report, name string) verify.StepReport {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in the report:\n%s", name, reportText(r))
	return verify.StepReport{}
}

// sources lists the sources of link uses.
func sources(us []verify.LinkUse) string {
	var out []string
	for _, u := range us {
		out = append(out, u.Source+" ["+u.Reason+"]")
	}
	return strings.Join(out, "; ")
}

// failureFor returns the failures about step.
func failureFor(r *verify.Report, step string) []verify.Failure {
	var out []verify.Failure
	for _, f := range r.Failures {
		if f.Step == step {
			out = append(out, f)
		}
	}
	return out
}

// short8 is how reports abbreviate a keyid.
func short8(id string) string { return id[:8] }

// setBody replaces resp's body (and its length) with body, for a proxy's
// ModifyResponse.
func setBody(resp *http.Response, body []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
}

// serveProxy serves rp on loopback until the test ends and returns its
// host:port.
func serveProxy(t testing.TB, rp *httputil.ReverseProxy) string {
	t.Helper()
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// blobRewriter is a reverse proxy in front of a real registry that serves
// other bytes, of the same length, for one blob or manifest: a registry
// (or a path to it) that lies about content. It tells the same lie where
// a referrers listing carries that blob (oci.AnnotationEnvelopeData).
type blobRewriter struct {
	host     string
	target   digest.Digest
	rewrites atomic.Int32
}

func newBlobRewriter(t testing.TB, backendHost string, target digest.Digest, rewrite func([]byte) []byte) *blobRewriter {
	t.Helper()
	p := &blobRewriter{target: target}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backendHost})
	rp.ModifyResponse = func(resp *http.Response) error {
		listing := strings.Contains(resp.Request.URL.Path, "/referrers/")
		if resp.Request.Method != http.MethodGet || resp.StatusCode != http.StatusOK || (!listing && !strings.HasSuffix(resp.Request.URL.Path, "/"+target.String())) {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if listing {
			body, err = rewriteListed(body, target, rewrite, &p.rewrites)
			if err != nil {
				return err
			}
		} else {
			body = rewrite(body)
			p.rewrites.Add(1)
		}
		setBody(resp, body)
		return nil
	}
	p.host = serveProxy(t, rp)
	return p
}

// rewriteListed rewrites, in a referrers listing, the envelopes carried
// inline (oci.AnnotationEnvelopeData) that are the blob target, counting
// each in n.
func rewriteListed(body []byte, target digest.Digest, rewrite func([]byte) []byte, n *atomic.Int32) ([]byte, error) {
	var index ocispec.Index
	if err := json.Unmarshal(body, &index); err != nil {
		return nil, err
	}
	changed := false
	for _, d := range index.Manifests {
		if data, ok := d.Annotations[oci.AnnotationEnvelopeData]; ok && digest.FromString(data) == target {
			d.Annotations[oci.AnnotationEnvelopeData] = string(rewrite([]byte(data)))
			n.Add(1)
			changed = true
		}
	}
	if !changed {
		return body, nil
	}
	return json.Marshal(index)
}
