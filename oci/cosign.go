package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/referee-dev/referee/attest"
)

// cosign's attestations, as cosign v2.6 writes them with a key:
//   - legacy: the tag sha256-<hex>.att in the image's repository holds an
//     image manifest (no subject) with one layer per attestation, each a
//     DSSE envelope (MediaTypeDSSE) of an in-toto Statement (v0.1); every
//     `cosign attest` appends a layer;
//   - --new-bundle-format: one OCI 1.1 referrer per attestation, of
//     artifact type MediaTypeSigstoreBundle, whose one layer is a Sigstore
//     bundle holding the DSSE envelope (dsseEnvelope) beside the
//     verification material (a hint of the public key, certificates,
//     transparency log entries).
//
// https://github.com/sigstore/cosign/blob/v2.6.4/specs/ATTESTATION_SPEC.md
// https://github.com/sigstore/protobuf-specs/blob/v0.5.0/protos/sigstore_bundle.proto
const (
	// MediaTypeSigstoreBundle is the media type (and artifact type) of a
	// Sigstore bundle v0.3; earlier versions are
	// application/vnd.dev.sigstore.bundle+json;version=0.N.
	MediaTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// CosignAttestationTagSuffix ends cosign's legacy attestation tag,
	// sha256-<hex>.att.
	CosignAttestationTagSuffix = ".att"

	mediaTypeEmptyJSON   = "application/vnd.oci.empty.v1+json"
	sigstoreBundlePrefix = "application/vnd.dev.sigstore.bundle"
)

// ErrSignatureBundle is ParseSigstoreBundle's error for a bundle of a
// plain signature (cosign sign --new-bundle-format), which holds no
// attestation.
var ErrSignatureBundle = errors.New("a Sigstore bundle of a plain signature (cosign sign), not of an attestation")

// annotationBundleContent is cosign's annotation on a bundle referrer
// saying what the bundle holds: "dsse-envelope" (an attestation) or
// "message-signature" (a signature).
const annotationBundleContent = "dev.sigstore.bundle.content"

// isSigstoreBundle reports whether t is a Sigstore bundle media type, of
// any version.
func isSigstoreBundle(t string) bool {
	return t == sigstoreBundlePrefix+"+json" || strings.HasPrefix(t, sigstoreBundlePrefix+".v") || strings.HasPrefix(t, sigstoreBundlePrefix+"+json;")
}

// CosignAttestationTag returns the tag under which cosign keeps the legacy
// attestations of the image with digest d ("sha256:<hex>"):
// "sha256-<hex>.att".
func CosignAttestationTag(d string) string {
	return strings.Replace(d, ":", "-", 1) + CosignAttestationTagSuffix
}

// bundleSchema is a Sigstore bundle as referee reads one: its fields
// (read by protobuf's JSON reader in sigstore's code, hence no case or
// proto-name variants), of which only mediaType and dsseEnvelope are used.
var bundleSchema = &attest.Schema{Protobuf: true, Fields: map[string]*attest.Schema{
	"mediaType":            nil,
	"verificationMaterial": nil,
	"dsseEnvelope":         nil,
	"messageSignature":     nil,
}}

// ParseSigstoreBundle reads a Sigstore bundle (any version) and returns
// its DSSE envelope, checked as attest.ParseEnvelope checks any. The
// bundle's verification material (public key hint, certificate,
// transparency log entries) is not read: referee verifies the envelope
// with a layout key only. A bundle that holds a plain signature
// (messageSignature, from cosign sign) has no attestation:
// ErrSignatureBundle.
// https://github.com/sigstore/protobuf-specs/blob/v0.5.0/protos/sigstore_bundle.proto
func ParseSigstoreBundle(data []byte) (*attest.Envelope, error) {
	if err := attest.CheckJSON(data, bundleSchema); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("not a Sigstore bundle: not a JSON object")
	}
	var b struct {
		MediaType        string          `json:"mediaType"`
		DSSEEnvelope     json.RawMessage `json:"dsseEnvelope"`
		MessageSignature json.RawMessage `json:"messageSignature"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	switch {
	case !isSigstoreBundle(b.MediaType):
		return nil, fmt.Errorf("not a Sigstore bundle: mediaType is %.80q", b.MediaType)
	case len(b.DSSEEnvelope) == 0 || string(b.DSSEEnvelope) == "null":
		if len(b.MessageSignature) > 0 {
			return nil, ErrSignatureBundle
		}
		return nil, errors.New("a Sigstore bundle without a DSSE envelope")
	}
	env, err := parseDSSE(b.DSSEEnvelope)
	if err != nil {
		return nil, fmt.Errorf("the Sigstore bundle's dsseEnvelope: %w", err)
	}
	return env, nil
}

// cosignTag reads cosign's legacy attestations of image: the layers of
// the manifest tagged sha256-<hex>.att, if there is one.
func (r *attReader) cosignTag(ctx context.Context, image ocispec.Descriptor) ([]attFound, error) {
	tag := CosignAttestationTag(image.Digest.String())
	desc, err := r.s.Resolve(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolving cosign's tag %s: %w", tag, bareTimeout(err))
	}
	source := "tag " + tag
	skipped := func(why string) []attFound {
		return []attFound{{att: Attestation{Source: source, Referrer: desc}, skip: why}}
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != mediaTypeDockerManifest {
		return skipped(fmt.Sprintf("is of media type %s, not an image manifest", desc.MediaType)), nil
	}
	data, skip, err := r.fetch(ctx, desc, r.maxManifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if skip != "" {
		return skipped(skip), nil
	}
	var m manifestHead
	if err := unmarshalStrict(data, &m); err != nil {
		return skipped(fmt.Sprintf("manifest is not JSON: %v", err)), nil
	}
	switch {
	case m.MediaType != "" && m.MediaType != desc.MediaType:
		return skipped(fmt.Sprintf("manifest says it is a %q, not the %s the registry served", m.MediaType, desc.MediaType)), nil
	case len(m.Manifests) > 0:
		return skipped("is an index, not an image manifest"), nil
	case len(m.Layers) > maxAttestationLayers:
		return skipped(fmt.Sprintf("has %d layers; referee reads at most %d", len(m.Layers), maxAttestationLayers)), nil
	}
	desc.Annotations = m.Annotations
	var layers []ocispec.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == MediaTypeDSSE {
			layers = append(layers, l)
		}
	}
	if len(layers) == 0 {
		return skipped(fmt.Sprintf("no %s layer", MediaTypeDSSE)), nil
	}
	return r.layers(ctx, desc, m.Layers, MediaTypeDSSE, AttestationFormCosign, source)
}
