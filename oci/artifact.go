package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Artifact types of the other in-toto documents referee attaches.
const (
	// ArtifactTypeStatementDSSE is an in-toto Statement v1 in DSSE, such as
	// the SLSA Verification Summary Attestations that referee promote
	// signs. The Statement's predicate type is in AnnotationPredicateType.
	ArtifactTypeStatementDSSE = "application/vnd.referee.in-toto.statement.v1.dsse+json"
	// AnnotationPredicateType is in-toto's annotation for a Statement's
	// predicate type, as BuildKit writes it on its attestation layers.
	AnnotationPredicateType = "in-toto.io/predicate-type"
)

// Referrer is an artifact to attach to a subject: one layer of data.
type Referrer struct {
	ArtifactType   string
	LayerMediaType string
	Data           []byte
	// Title names the layer's file.
	Title       string
	Annotations map[string]string
}

// AttachReferrer pushes r as a referrer of subject (config {} typed with
// the artifact type, one layer, the annotations), the same way Attach
// stores layouts and links. An identical layer already attached to subject
// with the same artifact type is reused and nothing is pushed.
func AttachReferrer(ctx context.Context, s Store, subject ocispec.Descriptor, r Referrer) (Attached, error) {
	return attachReferrer(ctx, s, subject, r, false)
}

// attachReferrer is AttachReferrer; with sameTitle, an attached layer is
// reused only when its title is r.Title too (an artifact referrer is the
// file at one path).
func attachReferrer(ctx context.Context, s Store, subject ocispec.Descriptor, r Referrer, sameTitle bool) (Attached, error) {
	layer := content.NewDescriptorFromBytes(r.LayerMediaType, r.Data)
	if r.Title != "" {
		layer.Annotations = map[string]string{AnnotationTitle: r.Title}
	}
	ann := map[string]string{}
	for k, v := range r.Annotations {
		ann[k] = v
	}
	if ann[AnnotationCreated] == "" {
		ann[AnnotationCreated] = createdTime(time.Time{})
	}
	ann[AnnotationEnvelopeDigest] = layer.Digest.String()
	title := ""
	if sameTitle {
		title = r.Title
	}
	existing, ok, inlined, err := findAttached(ctx, s, subject, r.ArtifactType, layer.Digest, title)
	if err != nil {
		return Attached{}, err
	} else if ok {
		return Attached{Manifest: existing, Existed: true}, nil
	}
	if inlineable(r.ArtifactType, r.Data, inlined) {
		ann[AnnotationEnvelopeData] = string(r.Data)
	}
	config := content.NewDescriptorFromBytes(r.ArtifactType, emptyConfig)
	if err := pushIfAbsent(ctx, s, config, emptyConfig); err != nil {
		return Attached{}, err
	}
	if err := pushIfAbsent(ctx, s, layer, r.Data); err != nil {
		return Attached{}, err
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	manifest := ocispec.Manifest{
		Versioned:    specsVersioned(),
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: r.ArtifactType,
		Config:       config,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subj,
		Annotations:  ann,
	}
	var desc ocispec.Descriptor
	var data []byte
	push := func() error {
		if data, err = marshalJSON(manifest); err != nil {
			return err
		}
		desc = content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data)
		desc.ArtifactType, desc.Annotations = r.ArtifactType, ann
		return pushIfAbsent(ctx, s, desc, data)
	}
	err = push()
	if _, carried := ann[AnnotationEnvelopeData]; carried && refusedManifest(err) {
		// A registry that takes no manifest this large, or no annotation
		// this long: the envelope goes as a blob only, as to any reader
		// it may.
		delete(ann, AnnotationEnvelopeData)
		err = push()
	}
	if err != nil {
		if !blobUnknown(err) {
			return Attached{}, err
		}
		// The registry lost track of a blob it had said it holds (seen on
		// distribution 2.8 with several clients pushing the same config at
		// once): push both blobs outright and the manifest again.
		for _, b := range []struct {
			d    ocispec.Descriptor
			data []byte
		}{{config, emptyConfig}, {layer, r.Data}} {
			if err := s.Push(ctx, b.d, bytes.NewReader(b.data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
				return Attached{}, fmt.Errorf("pushing %s: %w", b.d.Digest, err)
			}
		}
		if err := unindexed(s).Push(ctx, desc, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return Attached{}, fmt.Errorf("pushing %s: %w", desc.Digest, err)
		}
	}
	if err := ensureListed(ctx, s, subject, desc); err != nil {
		return Attached{}, err
	}
	return Attached{Manifest: desc}, nil
}

// blobUnknown reports whether a registry refused a manifest because it does
// not know one of its blobs (MANIFEST_BLOB_UNKNOWN).
func blobUnknown(err error) bool {
	return hasErrorCode(err, errcode.ErrorCodeManifestBlobUnknown)
}

// refusedManifest reports whether a registry refused a manifest as such:
// MANIFEST_INVALID, or 400 or 413 without a code that names something else.
func refusedManifest(err error) bool {
	var er *errcode.ErrorResponse
	if !errors.As(err, &er) || blobUnknown(err) {
		return false
	}
	return hasErrorCode(err, errcode.ErrorCodeManifestInvalid) || er.StatusCode == http.StatusRequestEntityTooLarge ||
		(er.StatusCode == http.StatusBadRequest && !hasErrorCode(err, errcode.ErrorCodeNameInvalid, errcode.ErrorCodeDigestInvalid, errcode.ErrorCodeSizeInvalid))
}

// hasErrorCode reports whether err is a registry's error response with
// one of codes among its errors.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#error-codes
func hasErrorCode(err error, codes ...string) bool {
	var er *errcode.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	return slices.ContainsFunc(er.Errors, func(e errcode.Error) bool { return slices.Contains(codes, e.Code) })
}
