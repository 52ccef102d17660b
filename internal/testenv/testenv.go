// Package testenv gives referee's tests real registries and images: the
// registry is go-containerregistry's, run in-process on httptest (never a
// hand-written mock), with or without the OCI 1.1 referrers API.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/oci"
)

// Registry starts go-containerregistry's registry with the referrers API
// or with only the referrers tag schema, stopped at the end of the test,
// and returns its host:port.
func Registry(t testing.TB, referrersAPI bool) string {
	t.Helper()
	srv := httptest.NewServer(ggcr.New(ggcr.WithReferrersSupport(referrersAPI), ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Open opens the store name (HOST/REPO or oci-layout:PATH).
func Open(t testing.TB, name string) oci.Store {
	t.Helper()
	ref, err := oci.ParseReference(name + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := oci.Open(context.Background(), ref, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// PushImage pushes a small one-layer OCI image whose layer is
// layerContent, tags it v1, and returns its descriptor.
func PushImage(t testing.TB, s oci.Store, layerContent string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, s, ocispec.MediaTypeImageLayer, []byte(layerContent))
	if err != nil {
		t.Fatal(err)
	}
	configJSON := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	config := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, configJSON)
	if ok, err := s.Exists(ctx, config); err != nil {
		t.Fatal(err)
	} else if !ok {
		if err := s.Push(ctx, config, bytes.NewReader(configJSON)); err != nil {
			t.Fatal(err)
		}
	}
	desc, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{
		ConfigDescriptor:    &config,
		Layers:              []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "2026-01-01T00:00:00Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, desc, "v1"); err != nil {
		t.Fatal(err)
	}
	return desc
}

// ForgeTagIndex replaces subject's referrers tag-schema index with one
// listing entries, as anyone who can push to the repository can.
func ForgeTagIndex(t testing.TB, s oci.Store, subject ocispec.Descriptor, entries []ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: entries}
	idx.SchemaVersion = 2
	data, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, data)
	if err := s.Push(ctx, desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, desc, strings.Replace(subject.Digest.String(), ":", "-", 1)); err != nil {
		t.Fatal(err)
	}
}
