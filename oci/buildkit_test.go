package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/oci"
)

const (
	slsaV02 = "https://slsa.dev/provenance/v0.2"
	spdx    = "https://spdx.dev/Document"
)

// pushJSON pushes v as JSON of mediaType and returns its descriptor.
func pushJSON(t testing.TB, s oci.Store, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := oras.PushBytes(context.Background(), s, mediaType, data)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// pushAttestationManifest pushes what BuildKit pushes for one platform
// image: an image manifest whose config is unknown/unknown and whose layers
// are in-toto Statements about the image, annotated with their predicate
// types (provenance and SPDX SBOM).
// https://docs.docker.com/build/metadata/attestations/attestation-storage/
func pushAttestationManifest(t testing.TB, s oci.Store, image ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	config := pushJSON(t, s, ocispec.MediaTypeImageConfig, map[string]any{
		"architecture": "unknown", "os": "unknown", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}},
	})
	var layers []ocispec.Descriptor
	for _, pt := range []string{slsaV02, spdx} {
		l := pushJSON(t, s, oci.MediaTypeInTotoStatement, map[string]any{
			"_type":         "https://in-toto.io/Statement/v0.1",
			"predicateType": pt,
			"subject":       []any{map[string]any{"name": "_", "digest": map[string]string{"sha256": image.Digest.Encoded()}}},
			"predicate":     map[string]any{},
		})
		l.Annotations = map[string]string{oci.AnnotationPredicateType: pt}
		layers = append(layers, l)
	}
	return pushJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: config, Layers: layers,
	})
}

// attestationEntry is the index entry BuildKit writes for an attestation
// manifest of image.
func attestationEntry(att, image ocispec.Descriptor) ocispec.Descriptor {
	att.Platform = &ocispec.Platform{Architecture: "unknown", OS: "unknown"}
	att.Annotations = map[string]string{
		oci.AnnotationDockerReferenceType:   oci.DockerReferenceAttestation,
		oci.AnnotationDockerReferenceDigest: image.Digest.String(),
	}
	return att
}

func pushIndex(t testing.TB, s oci.Store, manifests ...ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	return pushJSON(t, s, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests,
	})
}

// buildKitImage pushes a BuildKit-shaped index: a linux/amd64 image and
// its attestation manifest.
func buildKitImage(t testing.TB, s oci.Store) (index, image, att ocispec.Descriptor) {
	t.Helper()
	image = pushImage(t, s, "app")
	image.Annotations = nil
	image.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
	att = pushAttestationManifest(t, s, image)
	index = pushIndex(t, s, image, attestationEntry(att, image))
	return index, image, att
}

func TestBuildKitAttestations(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, newStore(t, kind))
			index, image, att := buildKitImage(t, s)

			atts, err := oci.BuildKitAttestations(ctx, s, index, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(atts) != 1 {
				t.Fatalf("got %d attestations, want 1: %+v", len(atts), atts)
			}
			a := atts[0]
			if a.Problem != "" || a.Manifest.Digest != att.Digest || a.Subject != image.Digest {
				t.Fatalf("got %+v", a)
			}
			if got := strings.Join(a.PredicateTypes, " "); got != slsaV02+" "+spdx {
				t.Errorf("predicate types %q", got)
			}
			if a.Platform == nil || a.Platform.OS != "linux" || len(a.Layers) != 2 {
				t.Errorf("platform %+v, %d layers", a.Platform, len(a.Layers))
			}
			// A plain image manifest holds none.
			if atts, err := oci.BuildKitAttestations(ctx, s, image, 0); err != nil || atts != nil {
				t.Errorf("image manifest: %v, %v", atts, err)
			}

			// discover: a referee referrer of the index, then BuildKit's.
			ref, err := oci.AttachReferrer(ctx, s, index, oci.Referrer{ArtifactType: oci.ArtifactTypeStatementDSSE, LayerMediaType: oci.MediaTypeDSSE, Data: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			graph, err := oci.DiscoverBuildKit(ctx, s, index, oci.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(graph.Referrers) != 2 || graph.Referrers[0].Digest != ref.Manifest.Digest.String() {
				t.Fatalf("referrers %+v", graph.Referrers)
			}
			var tree bytes.Buffer
			if err := graph.WriteTree(&tree, "app"); err != nil {
				t.Fatal(err)
			}
			want := "└── " + att.Digest.String() + " application/vnd.in-toto+json  (buildkit attestation-manifest for " +
				image.Digest.String() + " (linux/amd64): " + slsaV02 + ", " + spdx + ")"
			if !strings.Contains(tree.String(), want) {
				t.Errorf("tree:\n%s\nwant a line:\n%s", tree.String(), want)
			}
			js, err := json.Marshal(graph)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{`"in-toto.io/predicate-type":"` + slsaV02 + "," + spdx + `"`, `"vnd.docker.reference.digest":"` + image.Digest.String() + `"`} {
				if !strings.Contains(string(js), w) {
					t.Errorf("JSON lacks %s:\n%s", w, js)
				}
			}
			// The BuildKit node adds no document to gather.
			b, err := oci.Gather(ctx, s, graph, 0, 0)
			if err != nil || len(b.Layouts)+len(b.Links)+len(b.Skipped) != 0 {
				t.Errorf("gather: %+v, %v", b, err)
			}
			// Filtered on another artifact type, they are left out.
			graph, err = oci.DiscoverBuildKit(ctx, s, index, oci.DiscoverOptions{ArtifactType: oci.ArtifactTypeLinkDSSE})
			if err != nil || len(graph.Referrers) != 0 {
				t.Errorf("filtered: %+v, %v", graph, err)
			}
		})
	}
}

// TestBuildKitLies: the index's annotations are claims; an entry that does
// not hold up is reported with its problem, never with predicate types.
func TestBuildKitLies(t *testing.T) {
	cases := []struct {
		name string
		// entry returns the attestation entry to list beside image.
		entry   func(t *testing.T, s oci.Store, image ocispec.Descriptor) ocispec.Descriptor
		after   func(t *testing.T, s oci.Store, entry ocispec.Descriptor)
		problem string
	}{
		{
			name: "missing attestation manifest",
			entry: func(t *testing.T, s oci.Store, image ocispec.Descriptor) ocispec.Descriptor {
				return attestationEntry(pushAttestationManifest(t, s, image), image)
			},
			after: func(t *testing.T, s oci.Store, entry ocispec.Descriptor) {
				// The registry refuses an index whose entries are missing:
				// delete the attestation manifest once the index is in.
				entry.Platform, entry.Annotations = nil, nil
				if err := s.(content.Deleter).Delete(context.Background(), entry); err != nil {
					t.Fatal(err)
				}
			},
			problem: "fetching",
		},
		{
			name: "wrong size in the index",
			entry: func(t *testing.T, s oci.Store, image ocispec.Descriptor) ocispec.Descriptor {
				e := attestationEntry(pushAttestationManifest(t, s, image), image)
				e.Size--
				return e
			},
			problem: "fetching",
		},
		{
			name: "plain image marked as attestation",
			entry: func(t *testing.T, s oci.Store, image ocispec.Descriptor) ocispec.Descriptor {
				config := pushJSON(t, s, ocispec.MediaTypeImageConfig, map[string]any{"architecture": "unknown", "os": "unknown"})
				layer, err := oras.PushBytes(context.Background(), s, ocispec.MediaTypeImageLayer, []byte("not an attestation"))
				if err != nil {
					t.Fatal(err)
				}
				other := pushJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
					Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
					Config: config, Layers: []ocispec.Descriptor{layer},
				})
				return attestationEntry(other, image)
			},
			problem: "no application/vnd.in-toto+json layer",
		},
		{
			name: "describes an image the index does not list",
			entry: func(t *testing.T, s oci.Store, image ocispec.Descriptor) ocispec.Descriptor {
				ghost := image
				ghost.Digest = digest.FromString("ghost")
				return attestationEntry(pushAttestationManifest(t, s, image), ghost)
			},
			problem: "which the index does not list",
		},
		{
			name: "runnable platform",
			entry: func(t *testing.T, s oci.Store, image ocispec.Descriptor) ocispec.Descriptor {
				e := attestationEntry(pushAttestationManifest(t, s, image), image)
				e.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
				return e
			},
			problem: "runnable platform",
		},
	}
	for _, kind := range storeKinds {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				ctx := context.Background()
				s := open(t, newStore(t, kind))
				image := pushImage(t, s, "app")
				image.Annotations = nil
				image.Platform = &ocispec.Platform{Architecture: "amd64", OS: "linux"}
				entry := c.entry(t, s, image)
				index := pushIndex(t, s, image, entry)
				if c.after != nil {
					c.after(t, s, entry)
				}
				atts, err := oci.BuildKitAttestations(ctx, s, index, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(atts) != 1 || !strings.Contains(atts[0].Problem, c.problem) || atts[0].PredicateTypes != nil {
					t.Fatalf("got %+v, want a problem with %q", atts, c.problem)
				}
				graph, err := oci.DiscoverBuildKit(ctx, s, index, oci.DiscoverOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var tree bytes.Buffer
				if err := graph.WriteTree(&tree, "app"); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(tree.String(), entry.Digest.String()+" application/vnd.in-toto+json  PROBLEM: buildkit attestation-manifest for ") {
					t.Errorf("tree:\n%s", tree.String())
				}
			})
		}
	}
}

// TestBuildKitIndexBounds: the index itself is read bounded and checked.
func TestBuildKitIndexBounds(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "oci-layout"))
	index, _, _ := buildKitImage(t, s)
	if _, err := oci.BuildKitAttestations(ctx, s, index, 16); err == nil || !strings.Contains(err.Error(), "more than the 16 allowed") {
		t.Errorf("over the limit: %v", err)
	}
	lie := index
	lie.Digest = digest.FromString("another index")
	if _, err := oci.BuildKitAttestations(ctx, s, lie, 0); err == nil {
		t.Error("an index that is not there was read")
	}
}
