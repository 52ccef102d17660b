package oci

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// buildKit reads the Statements of BuildKit's attestation manifests in
// image, when it is an index (see BuildKitAttestations): each in-toto
// layer is a bare Statement, unsigned, returned with no Envelope. The
// statement's subject (the platform image) is not compared with the
// index's vnd.docker.reference.digest here: both are returned as found.
// An attestation manifest with a Problem is skipped, with it.
// https://docs.docker.com/build/metadata/attestations/attestation-storage/
func (r *attReader) buildKit(ctx context.Context, image ocispec.Descriptor) ([]attFound, error) {
	atts, err := BuildKitAttestations(ctx, r.s, image, r.maxManifest)
	if err != nil {
		return nil, err
	}
	var out []attFound
	for _, a := range atts {
		source := fmt.Sprintf("index %s attestation-manifest %s (BuildKit, unsigned)", image.Digest, a.Manifest.Digest)
		desc := ocispec.Descriptor{MediaType: a.Manifest.MediaType, Digest: a.Manifest.Digest, Size: a.Manifest.Size, Annotations: a.Manifest.Annotations}
		switch {
		case a.Problem != "":
			out = append(out, attFound{att: Attestation{Source: source, Referrer: desc}, skip: a.Problem})
			continue
		case len(a.Layers) > maxAttestationLayers:
			out = append(out, attFound{att: Attestation{Source: source, Referrer: desc}, skip: fmt.Sprintf("has %d in-toto layers; referee reads at most %d", len(a.Layers), maxAttestationLayers)})
			continue
		}
		found, err := r.layers(ctx, desc, a.Layers, MediaTypeInTotoStatement, AttestationFormBuildKit, source)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}
