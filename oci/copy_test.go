package oci_test

import (
	"context"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// TestCopyWithReferrers copies an image with its referrers (a layout, two
// links and another tool's artifact) from a registry with the referrers
// API to one with only the tag schema, to an OCI layout directory, and
// from that layout to a fresh registry: each destination resolves the tag
// to the image and Discover there shows the same referrer graph.
func TestCopyWithReferrers(t *testing.T) {
	ctx := context.Background()
	src := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, src, "copied")
	sc := newSupplyChain(t, attest.FormDSSE)
	for _, f := range [][]byte{sc.layout, sc.links["build"], sc.links["test"]} {
		if _, err := oci.Attach(ctx, src, image, f, oci.AttachOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	blob, err := oras.PushBytes(ctx, src, "application/spdx+json", []byte(`{"spdxVersion":"SPDX-2.3"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "application/vnd.example.sbom+json", oras.PackManifestOptions{Subject: &image, Layers: []ocispec.Descriptor{blob}}); err != nil {
		t.Fatal(err)
	}
	want := discoverPairs(t, src, image)
	if len(want) != 4 {
		t.Fatalf("source graph %v", want)
	}

	tagSchema := open(t, newStore(t, "tag-schema"))
	layout := open(t, newStore(t, "oci-layout"))
	back := open(t, newStore(t, "referrers-api"))
	for _, c := range []struct {
		name     string
		from, to oci.Store
	}{{"registry to tag-schema registry", src, tagSchema}, {"registry to oci-layout", src, layout}, {"oci-layout to registry", layout, back}} {
		if err := oci.Copy(ctx, c.from, c.to, image, "copied", oci.CopyOptions{}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := c.to.Resolve(ctx, "copied")
		if err != nil || got.Digest != image.Digest {
			t.Fatalf("%s: tag resolves to %v, %v", c.name, got.Digest, err)
		}
		if pairs := discoverPairs(t, c.to, image); !sameStrings(pairs, want) {
			t.Fatalf("%s: graph %v, want %v", c.name, pairs, want)
		}
		list, err := oci.ListReferrers(ctx, c.to, image, "", 0)
		if err != nil || len(list) != 4 {
			t.Fatalf("%s: listed %v %v", c.name, digestsOf(list), err)
		}
		// What was copied still pulls and is byte for byte what was attached.
		graph, _ := oci.Discover(ctx, c.to, image, oci.DiscoverOptions{})
		b, err := oci.Gather(ctx, c.to, graph, 0, 0)
		if err != nil || len(b.Layouts) != 1 || len(b.Links) != 2 || string(b.Layouts[0].Raw) != string(sc.layout) {
			t.Fatalf("%s: gathered %+v %v", c.name, b, err)
		}
	}
}

func discoverPairs(t testing.TB, s oci.Store, image ocispec.Descriptor) []string {
	t.Helper()
	g, err := oci.Discover(context.Background(), s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Referrers {
		if n.Problem != "" {
			t.Fatalf("problem in graph: %+v", n)
		}
	}
	return graphDigests(g)
}
