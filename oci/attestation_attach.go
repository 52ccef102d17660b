package oci

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
)

// AttachStatementOptions controls AttachStatement.
type AttachStatementOptions struct {
	// Title names the layer's file; empty means "attestation.intoto.json".
	Title string
	// Created is recorded as the creation time; zero means now.
	Created time.Time
}

// AttachStatement stores a signed in-toto Statement (a DSSE envelope, as
// attest.SignStatement makes) as a referrer of subject, as promote stores
// its verification summaries: artifact type ArtifactTypeStatementDSSE, one
// MediaTypeDSSE layer holding the envelope as it is, the predicate type in
// AnnotationPredicateType and the signers' keyids in AnnotationKeyIDs.
// The envelope must be signed, and a subject of the Statement must name
// subject's digest: a statement about another image is refused here
// rather than attached where it would never count. A link statement is a
// link: attach it with Attach. Attaching the same envelope again pushes
// nothing (Attached.Existed).
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/README.md
func AttachStatement(ctx context.Context, s Store, subject ocispec.Descriptor, envelope []byte, o AttachStatementOptions) (Attached, error) {
	env, err := attest.ParseEnvelope(envelope)
	if err != nil {
		return Attached{}, err
	}
	if env.Form != attest.FormDSSE {
		return Attached{}, errors.New("an in-toto Statement is signed in a DSSE envelope, not a Metablock")
	}
	st, err := attest.ParseStatement(env.Payload)
	if err != nil {
		return Attached{}, err
	}
	if st.PredicateType == attest.PredicateTypeLink {
		return Attached{}, errors.New("a link statement is a link: attach it as one (referee attach)")
	}
	if len(env.Signatures) == 0 {
		return Attached{}, errors.New("the statement is not signed")
	}
	if err := st.RequireSubject(subject.Digest.String()); err != nil {
		return Attached{}, fmt.Errorf("not attached: %w, the image being attached to", err)
	}
	title := o.Title
	if title == "" {
		title = "attestation.intoto.json"
	}
	return AttachReferrer(ctx, s, subject, Referrer{
		ArtifactType:   ArtifactTypeStatementDSSE,
		LayerMediaType: MediaTypeDSSE,
		Data:           envelope,
		Title:          title,
		Annotations: map[string]string{
			AnnotationPredicateType: st.PredicateType,
			AnnotationKeyIDs:        strings.Join(env.SignerKeyIDs(), ","),
			AnnotationCreated:       createdTime(o.Created),
		},
	})
}
