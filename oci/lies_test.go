package oci_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// looseManifest pushes a small manifest without subject, different for
// each note.
func looseManifest(t testing.TB, s oci.Store, note string) ocispec.Descriptor {
	t.Helper()
	d, err := oras.PackManifest(context.Background(), s, oras.PackManifestVersion1_1, "application/vnd.example.note", oras.PackManifestOptions{ManifestAnnotations: map[string]string{"note": note, ocispec.AnnotationCreated: "2026-01-01T00:00:00Z"}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// findNodes returns every node of the graph with digest d.
func findNodes(n *oci.Node, d string) []*oci.Node {
	var out []*oci.Node
	for _, c := range n.Referrers {
		if c.Digest == d {
			out = append(out, c)
		}
		out = append(out, findNodes(c, d)...)
	}
	return out
}

func docReferrers(docs []*oci.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.Referrer.Digest)
		for _, s := range docReferrers(d.Sub) {
			out = append(out, "sub:"+s)
		}
	}
	return out
}

// TestRegistryLies forges the referrers tag-schema index of an image on a
// registry without the referrers API: it lists a referrer of another
// image, an entry whose type and annotations claim a referee layout for
// a manifest that is something else, and a digest that does not exist.
// Discover reads each manifest rather than the listing; Gather takes no
// document from what does not belong.
func TestRegistryLies(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "tag-schema"))
	image := pushImage(t, s, "image")
	other := pushImage(t, s, "another image")
	sc := newSupplyChain(t, attest.FormDSSE)

	honest, err := oci.Attach(ctx, s, image, sc.links["build"], oci.AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// (a) a layout that is a referrer of the other image.
	foreign, err := oci.Attach(ctx, s, other, sc.layout, oci.AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// (b) another tool's artifact about the image, listed as a layout.
	blob, err := oras.PushBytes(ctx, s, "text/plain", []byte("not in-toto"))
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "application/vnd.example.sbom+json", oras.PackManifestOptions{Subject: &image, Layers: []ocispec.Descriptor{blob}})
	if err != nil {
		t.Fatal(err)
	}
	disguised := sbom
	disguised.ArtifactType = oci.ArtifactTypeLayoutDSSE
	disguised.Annotations = map[string]string{oci.AnnotationKind: "layout", oci.AnnotationTitle: "root.layout"}
	// (c) a manifest that does not exist: go-containerregistry's registry
	// refuses an index naming a manifest it does not hold, so it is
	// deleted after the forged index is in place.
	missing := looseManifest(t, s, "soon gone")
	missing.ArtifactType = oci.ArtifactTypeLinkDSSE

	forgeTagIndex(t, s, image, []ocispec.Descriptor{honest.Manifest, foreign.Manifest, disguised, missing})
	if err := s.(content.Deleter).Delete(ctx, missing); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(ctx, missing); ok || err != nil {
		t.Fatalf("deleted manifest still exists: %v", err)
	}

	graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(graph.Referrers) != 4 {
		t.Fatalf("graph %v", graphDigests(graph))
	}
	for _, n := range graph.Referrers {
		switch n.Digest {
		case honest.Manifest.Digest.String():
			if n.Problem != "" || n.ArtifactType != oci.ArtifactTypeLinkDSSE {
				t.Errorf("honest referrer: %+v", n)
			}
		case foreign.Manifest.Digest.String():
			if !strings.Contains(n.Problem, "names subject "+other.Digest.String()) || len(n.Referrers) != 0 {
				t.Errorf("foreign referrer: problem %q", n.Problem)
			}
		case sbom.Digest.String():
			if n.Problem != "" || n.ArtifactType != "application/vnd.example.sbom+json" || n.Annotations[oci.AnnotationKind] != "" || oci.IsRefereeType(n.Descriptor().ArtifactType) {
				t.Errorf("disguised referrer taken at the listing's word: %+v", n)
			}
		case missing.Digest.String():
			if n.Problem == "" {
				t.Errorf("missing manifest without a problem: %+v", n)
			}
		default:
			t.Errorf("unexpected node %s", n.Digest)
		}
	}
	b, err := oci.Gather(ctx, s, graph, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Layouts) != 0 || len(b.Links) != 1 || b.Links[0].Referrer.Digest != honest.Manifest.Digest.String() {
		t.Fatalf("gathered layouts %v links %v", docReferrers(b.Layouts), docReferrers(b.Links))
	}
	if len(b.Skipped) != 0 {
		t.Fatalf("skipped %v", b.Skipped)
	}
}

// TestTooManyReferrers: more referrers than allowed is an error, never a
// silent truncation.
func TestTooManyReferrers(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "tag-schema"))
	image := pushImage(t, s, "crowded")
	var entries []ocispec.Descriptor
	for i := range 6 {
		entries = append(entries, looseManifest(t, s, fmt.Sprint(i)))
	}
	forgeTagIndex(t, s, image, entries)
	if _, err := oci.ListReferrers(ctx, s, image, "", 5); err == nil || !strings.Contains(err.Error(), "more than 5 referrers") {
		t.Fatalf("ListReferrers over the limit: %v", err)
	}
	if g, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{MaxReferrers: 5}); err == nil || !strings.Contains(err.Error(), "more than 5") {
		t.Fatalf("Discover over the limit: %v %v", g, err)
	}
	g, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{MaxReferrers: 6})
	if err != nil || len(g.Referrers) != 6 {
		t.Fatalf("Discover at the limit: %v %v", g, err)
	}
	if _, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{MaxNodes: 4}); err == nil || !strings.Contains(err.Error(), "more than 4 manifests") {
		t.Fatalf("Discover over MaxNodes: %v", err)
	}
	// Gathering stops there too, before any referrer of the level is read.
	if _, _, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{MaxNodes: 4, ListedEnvelopes: true}, 0); err == nil || !strings.Contains(err.Error(), "more than 4 manifests") {
		t.Fatalf("DiscoverAndGather over MaxNodes: %v", err)
	}
}

// TestReferrerListedUnderTwoParents: a sublayout's link is also listed
// among the image's referrers. It is followed once, under the sublayout
// its manifest names, and reported as a problem under the image.
func TestReferrerListedUnderTwoParents(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "tag-schema"))
	image := pushImage(t, s, "two parents")
	sc := newSupplyChain(t, attest.FormDSSE)
	sub, err := oci.Attach(ctx, s, image, sc.layout, oci.AttachOptions{Step: "build"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := oci.Attach(ctx, s, sub.Manifest, sc.links["build"], oci.AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	forgeTagIndex(t, s, image, []ocispec.Descriptor{sub.Manifest, link.Manifest})

	graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var followed int
	for _, n := range findNodes(graph, link.Manifest.Digest.String()) {
		if n.Problem == "" {
			followed++
		}
	}
	subNode := findNodes(graph, sub.Manifest.Digest.String())
	if followed != 1 || len(subNode) != 1 || len(subNode[0].Referrers) != 1 || subNode[0].Referrers[0].Problem != "" {
		t.Fatalf("link followed %d times; graph %v", followed, graphDigests(graph))
	}
	b, err := oci.Gather(ctx, s, graph, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := docReferrers(b.Links); len(got) != 2 || got[0] != sub.Manifest.Digest.String() || got[1] != "sub:"+link.Manifest.Digest.String() {
		t.Fatalf("gathered %v", got)
	}
}

// TestBlobOverLimit: an envelope larger than Gather's limit is skipped,
// and the reason names its size.
func TestBlobOverLimit(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "tag-schema"))
	image := pushImage(t, s, "big")
	sc := newSupplyChain(t, attest.FormDSSE)
	a, err := oci.Attach(ctx, s, image, sc.links["build"], oci.AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := oci.Gather(ctx, s, graph, 64, 0)
	if err != nil {
		t.Fatal(err)
	}
	size := len(sc.links["build"])
	if len(b.Links) != 0 || len(b.Skipped) != 1 || b.Skipped[0].Digest != a.Manifest.Digest.String() ||
		!strings.Contains(b.Skipped[0].Reason, fmt.Sprintf("is %d bytes, more than the 64 allowed", size)) {
		t.Fatalf("links %d, skipped %+v", len(b.Links), b.Skipped)
	}
	// A manifest over the manifest limit is a problem, not a crash.
	g, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{MaxManifestBytes: 64})
	if err != nil || len(g.Referrers) != 1 || !strings.Contains(g.Referrers[0].Problem, "more than the 64 allowed") {
		t.Fatalf("%v %v", graphDigests(g), err)
	}
}
