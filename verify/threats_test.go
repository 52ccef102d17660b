package verify_test

// One test per attack of docs/threat-model.md, "Verification from a
// registry". Each runs on go-containerregistry's real registry in-process;
// whoever can push there can attach, delete and reorder referrers and
// serve any bytes. Each asserts that verify.Image fails closed and that
// the report or error names the cause.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// honestImage pushes an image built from tar and attaches the owner's
// layout (version 1 unless given) and bob's and alice's links to it.
func honestImage(t *testing.T, c *tmChain, s oci.Store, tar string) ocispec.Descriptor {
	t.Helper()
	image := tmPushImage(t, s, tar)
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", tar), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("alice", tar, image), oci.AttachOptions{})
	return image
}

// 1. Replay: the complete, validly signed evidence of image A (layout and
// links) copied onto image B does not verify B: the push step's link
// records A's digest under referee:image-manifest.
func TestThreatReplayOntoAnotherImage(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	a := tmPushImage(t, s, "honest build")
	b := tmPushImage(t, s, "malicious build")
	docs := [][]byte{c.signLayout(c.layout(), 1), c.buildLink("bob", "honest build"), c.pushLink("alice", "honest build", a)}
	for _, doc := range docs {
		tmAttach(t, s, a, doc, oci.AttachOptions{})
		tmAttach(t, s, b, doc, oci.AttachOptions{})
	}
	r, err := c.verify(s, a, verify.ImageOptions{})
	wantImagePass(t, r, err, a)

	r, err = c.verify(s, b, verify.ImageOptions{})
	wantImageFail(t, r, err, `step "push"`, attest.ImageArtifact, "about image "+a.Digest.String()[:19], "not "+b.Digest.String())
	if fs := failureFor(r, "push"); len(fs) != 1 || fs[0].Artifact != attest.ImageArtifact {
		t.Errorf("failures %+v", r.Failures)
	}
}

// 1b. A layout that binds no step to the image would let any image carry
// its evidence: it is refused when verifying from a registry, even though
// every link and rule is in order.
func TestThreatLayoutBindsNoStep(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	l := c.layout()
	l.Steps[1].ExpectedProducts = rules(t, "ALLOW *")
	tmAttach(t, s, image, c.signLayout(l, 1), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	tmAttach(t, s, image, c.link("push", "alice", map[string]attest.HashObj{"app.tar": sha("tar")}, nil), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, "binds no step to the image", attest.ImageArtifact)
}

// rotated is the owner's layout after bob's key was revoked: carol builds.
func rotated(c *tmChain) attest.Layout { return c.layout("carol") }

// 2. Rollback: the owner's older layout (version 1, still unexpired, which
// authorised bob) is attached beside the current one (version 2, which
// revoked bob's key for carol's), with links by bob. Version 2 is used,
// bob's link does not count, and the report lists version 1 as older.
func TestThreatRollbackToOlderLayout(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	v2 := tmAttach(t, s, image, c.signLayout(rotated(c), 2), oci.AttachOptions{Created: time.Now().Add(-time.Hour)})
	v1 := tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{}) // attached last, looks newest
	build := tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, `step "build"`, build.Digest.String(), "not signed by a functionary", short8(c.keyID("bob")))
	if r.Layout.Version != 2 || !strings.Contains(r.Layout.Source, v2.Digest.String()) {
		t.Errorf("layout used: %+v", r.Layout)
	}
	if len(r.Layout.NotUsed) != 1 || !strings.Contains(r.Layout.NotUsed[0].Source, v1.Digest.String()) || !strings.Contains(r.Layout.NotUsed[0].Reason, "version 1 is older") {
		t.Errorf("layouts not used: %+v", r.Layout.NotUsed)
	}
}

// 2b. Two different layouts signed by the owner with the same highest
// version: which one is current cannot be told, so verification refuses,
// naming both.
func TestThreatAmbiguousLayoutVersion(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := honestImage(t, c, s, "tar")
	a := tmAttach(t, s, image, c.signLayout(c.layout(), 2), oci.AttachOptions{})
	other := rotated(c)
	b := tmAttach(t, s, image, c.signLayout(other, 2), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, "no acceptable layout", "2 different layouts", "version 2", a.Digest.String(), b.Digest.String())
	if len(r.Steps) != 0 {
		t.Errorf("steps evaluated under an ambiguous layout: %s", reportText(r))
	}
}

// 2c. The attacker's own "newer" layout (version 3, signed by mallory,
// authorising mallory) beside the owner's: it is not signed by the layout
// key, so it is not used, the report says why, and mallory's links count
// for nothing under the owner's layout.
func TestThreatNewerLayoutByAnotherKey(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "evil tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	evil := c.layout()
	evil.Keys = map[string]*attest.Key{c.keyID("mallory"): c.keys["mallory"].Key()}
	for i := range evil.Steps {
		evil.Steps[i].PubKeys = []string{c.keyID("mallory")}
	}
	v3 := tmAttach(t, s, image, c.signLayout(evil, 3, c.keys["mallory"]), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("mallory", "evil tar"), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("mallory", "evil tar", image), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, "not signed by a functionary", short8(c.keyID("mallory")))
	if r.Layout.Version != 1 {
		t.Errorf("layout used: %+v", r.Layout)
	}
	if len(r.Layout.NotUsed) != 1 || !strings.Contains(r.Layout.NotUsed[0].Source, v3.Digest.String()) || !strings.Contains(r.Layout.NotUsed[0].Reason, "no signature by key "+c.owner.Key().KeyID) {
		t.Errorf("layouts not used: %+v", r.Layout.NotUsed)
	}
}

// 3. A registry that lies in its referrers list: image B's tag-schema index
// names image A's link referrers (whose manifests name A as subject) beside
// the layout copied onto B. They are not taken for B's evidence; each is
// reported in the warnings, and B's steps have no link.
func TestThreatForeignReferrerListed(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, false)+"/app")
	a := tmPushImage(t, s, "tar")
	b := tmPushImage(t, s, "evil tar")
	layout := c.signLayout(c.layout(), 1)
	tmAttach(t, s, a, layout, oci.AttachOptions{})
	build := tmAttach(t, s, a, c.buildLink("bob", "tar"), oci.AttachOptions{})
	push := tmAttach(t, s, a, c.pushLink("alice", "tar", a), oci.AttachOptions{})
	bLayout := tmAttach(t, s, b, layout, oci.AttachOptions{})
	tmForgeTagIndex(t, s, b, []ocispec.Descriptor{bLayout, build, push})

	r, err := c.verify(s, b, verify.ImageOptions{})
	wantImageFail(t, r, err, `step "build"`, `step "push"`, "no link")
	for _, ref := range []ocispec.Descriptor{build, push} {
		want := fmt.Sprintf("referrer %s ignored: listed as a referrer of %s but its manifest names subject %s", ref.Digest, b.Digest, a.Digest)
		if !strings.Contains(strings.Join(r.Warnings, "\n"), want) {
			t.Errorf("warnings %q lack %q", r.Warnings, want)
		}
	}
}

// 3b. A registry that serves other bytes for a blob than its descriptor
// names: here the current layout's envelope (version 2, which revoked bob),
// so that skipping it would fall back to version 1 and pass bob's links.
// The mismatch is an error, never a pass.
func TestThreatBlobNotMatchingDescriptor(t *testing.T) {
	c := newTMChain(t)
	backend := tmRegistry(t, true)
	s := tmOpen(t, backend+"/app")
	image := tmPushImage(t, s, "tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	v2 := c.signLayout(rotated(c), 2)
	v2Ref := tmAttach(t, s, image, v2, oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})

	blob := digest.FromBytes(v2)
	proxy := newBlobRewriter(t, backend, blob, func(b []byte) []byte {
		out := []byte(strings.Replace(string(b), `"payload"`, `"pAyload"`, 1))
		return out
	})
	r, err := c.verify(tmOpen(t, proxy.host+"/app"), image, verify.ImageOptions{})
	if proxy.rewrites.Load() == 0 {
		t.Fatal("the proxy rewrote nothing")
	}
	if err == nil || (r != nil && r.Verified) {
		t.Fatalf("verified with a blob that does not match its descriptor: %v\n%s", err, reportText(r))
	}
	if verify.IsNotVerified(err) {
		t.Fatalf("a store serving wrong bytes must be an error, not a verdict on what was left: %v\n%s", err, reportText(r))
	}
	for _, want := range []string{v2Ref.Digest.String(), blob.String(), "digest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

// 3c. The same lie about a referrer's manifest: the registry serves other
// bytes for the current layout's referrer manifest. Ignoring it as a
// broken referrer would again fall back to version 1; it is an error.
func TestThreatManifestNotMatchingDescriptor(t *testing.T) {
	c := newTMChain(t)
	backend := tmRegistry(t, true)
	s := tmOpen(t, backend+"/app")
	image := tmPushImage(t, s, "tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	v2 := tmAttach(t, s, image, c.signLayout(rotated(c), 2), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})

	proxy := newBlobRewriter(t, backend, v2.Digest, func(b []byte) []byte {
		return []byte(strings.Replace(string(b), `"layout"`, `"lAyout"`, 1))
	})
	r, err := c.verify(tmOpen(t, proxy.host+"/app"), image, verify.ImageOptions{})
	if proxy.rewrites.Load() == 0 {
		t.Fatal("the proxy rewrote nothing")
	}
	if err == nil || verify.IsNotVerified(err) || r != nil {
		t.Fatalf("want an error, got %v\n%s", err, reportText(r))
	}
	if !strings.Contains(err.Error(), v2.Digest.String()) || !strings.Contains(err.Error(), "digest") {
		t.Errorf("error %q does not name %s and its digest", err, v2.Digest)
	}
}

// 3d. A referrer that is listed but whose manifest was deleted (here the
// push step's link, deleted behind the tag-schema index's back) is ignored
// with a warning naming it; the step then has no link.
func TestThreatListedManifestDeleted(t *testing.T) {
	c := newTMChain(t)
	host := tmRegistry(t, false)
	s := tmOpen(t, host+"/app")
	image := tmPushImage(t, s, "tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	push := tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})
	// A plain DELETE: oras-go's Delete would also take it out of the index.
	req, err := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/app/manifests/"+push.Digest.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE %s: %s", push.Digest, resp.Status)
	}

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, `step "push"`, "no link", "referrer "+push.Digest.String()+" ignored")
}

// 4. Links signed by a key the layout does not authorise (mallory's, for
// an image mallory built) are not counted; the report says whose they are.
func TestThreatUnauthorisedKeyLinks(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "evil tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	build := tmAttach(t, s, image, c.buildLink("mallory", "evil tar"), oci.AttachOptions{})
	push := tmAttach(t, s, image, c.pushLink("mallory", "evil tar", image), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, `step "build"`, "found 0", build.Digest.String(), "not signed by a functionary", short8(c.keyID("mallory")))
	for step, ref := range map[string]ocispec.Descriptor{"build": build, "push": push} {
		sr := stepOf(t, r, step)
		if len(sr.Used) != 0 || len(sr.Rejected) != 1 || !strings.Contains(sr.Rejected[0].Source, ref.Digest.String()) || !strings.Contains(sr.Rejected[0].Reason, "claim keys "+short8(c.keyID("mallory"))) {
			t.Errorf("step %s: used %s; rejected %s", step, sources(sr.Used), sources(sr.Rejected))
		}
	}
}

// 4b. Two links by one key toward a threshold of 2 (bob signs two re-runs
// recording the same artifacts) count once: the threshold is not met.
func TestThreatOneKeyCountedOnce(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	l := c.layout("bob", "carol")
	l.Steps[0].Threshold = 2
	tmAttach(t, s, image, c.signLayout(l, 1), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar", "make"), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar", "make", "again"), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, `step "build"`, "2 distinct authorised functionaries", "found 1")
}

// 4c. A link for a step the layout does not name (here self-signed by
// mallory) is not used, as the references ignore it, so that no one who
// can push makes every image fail; the report lists it as not used, naming
// the step and the referrer. unknownstep_test.go covers the whole class.
func TestThreatLinkForUnknownStep(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := honestImage(t, c, s, "tar")
	deploy := tmAttach(t, s, image, c.link("deploy", "mallory", nil, nil), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImagePass(t, r, err, image)
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], deploy.Digest.String()) || !strings.Contains(r.Warnings[0], `of step "deploy" not used: no step of this name in the layout`) {
		t.Errorf("warnings %q", r.Warnings)
	}
}

// 4d. The current layout (version 2) pushed under a link's artifact type
// and annotations, hoping the verifier overlooks it and uses version 1: a
// document's kind comes from its signed _type, so version 2 is used.
func TestThreatLayoutWithLinkArtifactType(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	v1 := tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	v2 := tmAttachRaw(t, s, image, oci.ArtifactTypeLinkDSSE, oci.MediaTypeDSSE, c.signLayout(rotated(c), 2),
		map[string]string{oci.AnnotationKind: "link", oci.AnnotationTitle: "build.12345678.link"})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, `step "build"`, "not signed by a functionary", short8(c.keyID("bob")))
	if r.Layout.Version != 2 || !strings.Contains(r.Layout.Source, v2.Digest.String()) {
		t.Errorf("layout used: %+v", r.Layout)
	}
	if len(r.Layout.NotUsed) != 1 || !strings.Contains(r.Layout.NotUsed[0].Source, v1.Digest.String()) || !strings.Contains(r.Layout.NotUsed[0].Reason, "older") {
		t.Errorf("layouts not used: %+v", r.Layout.NotUsed)
	}
}

// 4e. Links pushed under a layout's artifact type and annotations are still
// links: bob's build link counts for build, and mallory's push link,
// disguised as a root layout, is neither a layout candidate nor counted.
func TestThreatLinkWithLayoutArtifactType(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	layout := tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	disguise := map[string]string{oci.AnnotationKind: "layout", oci.AnnotationTitle: "root.layout"}
	build := tmAttachRaw(t, s, image, oci.ArtifactTypeLayoutDSSE, oci.MediaTypeDSSE, c.buildLink("bob", "tar"), disguise)
	push := tmAttachRaw(t, s, image, oci.ArtifactTypeLayoutDSSE, oci.MediaTypeDSSE, c.pushLink("mallory", "tar", image), disguise)

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, `step "push"`, push.Digest.String(), "not signed by a functionary", short8(c.keyID("mallory")))
	if !strings.Contains(r.Layout.Source, layout.Digest.String()) || len(r.Layout.NotUsed) != 0 {
		t.Errorf("layout %+v", r.Layout)
	}
	// The disguised build link counted for build: no failure names it.
	if fs := failureFor(r, "build"); len(fs) != 0 || strings.Contains(strings.Join(r.Warnings, "\n"), build.Digest.String()) {
		t.Errorf("build: %+v, warnings %q", fs, r.Warnings)
	}
}

// 4f. In-toto Statements (SLSA provenance as cosign and BuildKit attach
// them) share links' DSSE payloadType and may be signed by a functionary
// and name the image, but they are not links: signed by alice in place of
// the push step's link, under an in-toto artifact type and under referee's
// link type, they are ignored, and the push step has no link.
func TestThreatInTotoStatementReferrer(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	stmt, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": attest.ImageArtifact, "digest": imageHash(image)}},
		"predicateType": "https://slsa.dev/provenance/v1",
		"predicate":     map[string]any{"name": "push", "materials": map[string]any{"app.tar": sha("tar")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	env := c.envelope(stmt, c.keys["alice"])
	buildkit := tmAttachRaw(t, s, image, "application/vnd.in-toto+json", "application/vnd.in-toto+json", env,
		map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"})
	disguised := tmAttachRaw(t, s, image, oci.ArtifactTypeLinkDSSE, oci.MediaTypeDSSE, env,
		map[string]string{oci.AnnotationKind: "link", oci.AnnotationStep: "push"})

	r, err := c.verify(s, image, verify.ImageOptions{})
	text := wantImageFail(t, r, err, `step "push"`, "no link")
	for _, d := range []ocispec.Descriptor{buildkit, disguised} {
		if strings.Contains(text, d.Digest.String()) {
			t.Errorf("the Statement %s was taken for evidence:\n%s", d.Digest, text)
		}
	}
}

// 5. A referrers list longer than DiscoverOptions.MaxReferrers is an error,
// never a silent truncation (which would let an attacker push the real
// evidence out of the window).
func TestThreatHugeReferrersList(t *testing.T) {
	ctx := context.Background()
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, false)+"/app")
	image := tmPushImage(t, s, "tar")
	var entries []ocispec.Descriptor
	for i := range 6 {
		d, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "application/vnd.example.note", oras.PackManifestOptions{ManifestAnnotations: map[string]string{"note": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, d)
	}
	tmForgeTagIndex(t, s, image, entries)

	r, err := c.verify(s, image, verify.ImageOptions{Discover: oci.DiscoverOptions{MaxReferrers: 5}})
	if err == nil || verify.IsNotVerified(err) || r != nil {
		t.Fatalf("want an error, got %v\n%s", err, reportText(r))
	}
	if want := image.Digest.String() + " has more than 5 referrers"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// 5b. An envelope blob over MaxBlobBytes is not read: the referrer is
// skipped with a reason naming it, and its step then has no link.
func TestThreatHugeEnvelopeBlob(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	big := c.paddedPushLink(t, image, 64<<10)
	push := tmAttach(t, s, image, big, oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{MaxBlobBytes: 16 << 10})
	wantImageFail(t, r, err, `step "push"`, "no link",
		fmt.Sprintf("referrer %s ignored: %s is %d bytes, more than the %d allowed", push.Digest, digest.FromBytes(big), len(big), 16<<10))
}

// 5c. A referrer graph nested deeper than DiscoverOptions.MaxDepth (a
// chain of sublayouts, each a referrer of the one before) is an error.
func TestThreatDeepReferrerGraph(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := honestImage(t, c, s, "tar")
	sub := c.signLayout(c.layout(), 0, c.keys["bob"])
	parent := image
	for range 4 {
		parent = tmAttach(t, s, parent, sub, oci.AttachOptions{Step: "build"})
	}

	r, err := c.verify(s, image, verify.ImageOptions{Discover: oci.DiscoverOptions{MaxDepth: 3}})
	if err == nil || verify.IsNotVerified(err) || r != nil {
		t.Fatalf("want an error, got %v\n%s", err, reportText(r))
	}
	if want := image.Digest.String() + " is deeper than 3"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// 6. Re-runs: the build and push steps ran twice; the newest build link
// records another app.tar and the newest push link another image. The set
// that satisfies the rules and the binding is used, and the report says
// which links were used and why the others were not. Without that set,
// verification fails naming the rule.
func TestThreatStaleReruns(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	other := tmPushImage(t, s, "tar of the other run")
	old, later := oci.AttachOptions{Created: time.Now().Add(-time.Hour)}, oci.AttachOptions{}
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), old)
	good := tmAttach(t, s, image, c.buildLink("bob", "tar"), old)
	pushed := tmAttach(t, s, image, c.pushLink("alice", "tar", image), old)
	stale := tmAttach(t, s, image, c.buildLink("bob", "tar of the other run", "rebuild"), later)
	stalePush := tmAttach(t, s, image, c.pushLink("alice", "tar", other, "push", "again"), later)

	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImagePass(t, r, err, image)
	const why = "another set of links for this step was used; this one records other artifacts"
	for step, want := range map[string][2]ocispec.Descriptor{"build": {good, stale}, "push": {pushed, stalePush}} {
		sr := stepOf(t, r, step)
		if len(sr.Used) != 1 || !strings.Contains(sr.Used[0].Source, want[0].Digest.String()) ||
			len(sr.Rejected) != 1 || !strings.Contains(sr.Rejected[0].Source, want[1].Digest.String()) || sr.Rejected[0].Reason != why {
			t.Errorf("step %s: used %s; rejected %s", step, sources(sr.Used), sources(sr.Rejected))
		}
	}

	// The same stale links on an image without the good ones.
	t.Run("only stale links", func(t *testing.T) {
		image := tmPushImage(t, s, "tar of yet another run")
		tmAttach(t, s, image, c.signLayout(c.layout(), 1), old)
		tmAttach(t, s, image, c.buildLink("bob", "tar of the other run", "rebuild"), later)
		tmAttach(t, s, image, c.pushLink("alice", "tar", image), later)
		r, err := c.verify(s, image, verify.ImageOptions{})
		wantImageFail(t, r, err, `step "push"`, "MATCH app.tar WITH PRODUCTS FROM build")
	})
}

// 7. --layout naming an OCI reference that holds no layout (an image, or a
// manifest whose layer is a link) is an error, never a fallback to the
// layouts attached to the image.
func TestThreatLayoutReferenceWithoutLayout(t *testing.T) {
	ctx := context.Background()
	c := newTMChain(t)
	host := tmRegistry(t, true)
	s := tmOpen(t, host+"/app")
	image := honestImage(t, c, s, "tar")
	policies := tmOpen(t, host+"/policies")
	link := c.buildLink("bob", "tar")
	layer, err := oras.PushBytes(ctx, policies, oci.MediaTypeDSSE, link)
	if err != nil {
		t.Fatal(err)
	}
	m, err := oras.PackManifest(ctx, policies, oras.PackManifestVersion1_1, oci.ArtifactTypeLayoutDSSE, oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{host + "/app@" + image.Digest.String(), host + "/policies@" + m.Digest.String()} {
		cand, err := layoutref.Load(ctx, ref, oci.Options{})
		if err == nil || !strings.Contains(err.Error(), "no layer holds a signed in-toto layout") || !strings.Contains(err.Error(), ref) {
			t.Errorf("--layout %s: %v (%+v)", ref, err, cand)
		}
	}
	if _, err := layoutref.Load(ctx, host+"/policies:missing", oci.Options{}); err == nil {
		t.Error("--layout naming a missing tag loaded")
	}
}

// 2d. Whoever can delete referrers can delete the current layout (v2) so
// that the older v1 becomes the highest left. A verifier that keeps the
// minimum version it has seen (--min-layout-version) refuses v1.
func TestThreatCurrentLayoutDeleted(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	v1 := tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{}) // v2 was deleted
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{MinLayoutVersion: 2})
	wantImageFail(t, r, err, "no acceptable layout", "version 2 or higher")
	if len(r.Layout.NotUsed) != 1 || !strings.Contains(r.Layout.NotUsed[0].Source, v1.Digest.String()) || !strings.Contains(r.Layout.NotUsed[0].Reason, "below the minimum 2") {
		t.Errorf("layouts not used: %+v", r.Layout.NotUsed)
	}
}
