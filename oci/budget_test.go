package oci_test

import (
	"context"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// A referrer that lists one envelope blob many times is not read many
// times: it is skipped with a reason, the others are read as usual.
func TestManyLayersPerReferrerSkipped(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, s, "img")
	sc := newSupplyChain(t, attest.FormDSSE)
	if _, err := oci.Attach(ctx, s, image, sc.links["build"], oci.AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	blob, err := oras.PushBytes(ctx, s, oci.MediaTypeDSSE, sc.links["test"])
	if err != nil {
		t.Fatal(err)
	}
	layers := make([]ocispec.Descriptor, 50)
	for i := range layers {
		layers[i] = blob
	}
	bomb, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, oci.ArtifactTypeLinkDSSE, oras.PackManifestOptions{Subject: &image, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	graph, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(graph.Referrers) != 2 || len(b.Links) != 1 || b.Links[0].Step != "build" {
		t.Fatalf("gathered %d links from %d referrers", len(b.Links), len(graph.Referrers))
	}
	if len(b.Skipped) != 1 || b.Skipped[0].Digest != bomb.Digest.String() || !strings.Contains(b.Skipped[0].Reason, "50 layers") {
		t.Fatalf("skipped %+v", b.Skipped)
	}
}
