package oci_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// Attach stores a signed link as a referrer of an image; Discover reads the
// referrer graph back, each referrer from its own manifest. The store here
// is an OCI image-layout directory; a registry works the same way.
func ExampleAttach() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ref, _ := oci.ParseReference("oci-layout:" + dir + ":v1")
	store, _ := oci.Open(ctx, ref, oci.Options{})

	layer, _ := oras.PushBytes(ctx, store, ocispec.MediaTypeImageLayer, []byte("app"))
	config, _ := oras.PushBytes(ctx, store, ocispec.MediaTypeImageConfig, []byte("{}"))
	image, _ := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{ConfigDescriptor: &config, Layers: []ocispec.Descriptor{layer}})

	signer, _ := attest.GenerateKey("ed25519")
	link := &attest.Link{Name: "build", Products: map[string]attest.HashObj{"app": {"sha256": strings.Repeat("ab", 32)}}}
	payload, _ := link.Marshal()
	env, _ := attest.SignPayload(attest.FormDSSE, payload, signer)
	file, _ := env.Marshal()

	if _, err := oci.Attach(ctx, store, image, file, oci.AttachOptions{Created: time.Unix(0, 0)}); err != nil {
		fmt.Println(err)
		return
	}
	graph, _ := oci.Discover(ctx, store, image, oci.DiscoverOptions{})
	for _, n := range graph.Referrers {
		fmt.Println(n.ArtifactType, n.Annotations[oci.AnnotationKind], n.Annotations[oci.AnnotationStep])
	}
	// Output:
	// application/vnd.referee.in-toto.link.v1.dsse+json link build
}
