package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/attest"
)

// emptyConfig is the content of every referee config blob; its media type
// carries the artifact type.
var emptyConfig = []byte("{}")

// AttachOptions controls Attach.
type AttachOptions struct {
	// Step names the step a sublayout stands for (a layout attached as
	// the evidence of a step of another layout); empty for a root layout.
	Step string
	// Created is recorded as the creation time; zero means now.
	Created time.Time
}

// Attached is the result of one Attach.
type Attached struct {
	// Manifest is the referrer manifest's descriptor.
	Manifest ocispec.Descriptor
	// Existed is true when the same envelope was already attached to the
	// subject, which is then left as it was.
	Existed bool
}

// Attach stores a signed layout or link file (either envelope form, from
// referee or the in-toto references) as a referrer of subject: an image
// manifest with subject, artifactType, a config whose media type is the
// artifact type, one layer holding the file's bytes as they are, and
// annotations for filtering. Attaching the same file to the same subject
// again pushes nothing and returns the existing referrer. On registries
// with only the referrers tag schema, Attach adds the referrer to the
// sha256-<hex> index itself, repairs the index while a concurrent writer
// loses it, and returns only once it stays listed (ensureListed): a
// referrer Attach reports is still listed once every concurrent attach
// has returned, and one it cannot list is an error. Requests cut or
// refused for a while (5xx, 429) are sent again where that is safe, and
// cut uploads begun again (see retryTransport and pushRestarting).
// See docs/format.md and
// https://github.com/opencontainers/image-spec/blob/v1.1.1/manifest.md.
func Attach(ctx context.Context, s Store, subject ocispec.Descriptor, file []byte, o AttachOptions) (Attached, error) {
	env, err := attest.ParseEnvelope(file)
	if err != nil {
		return Attached{}, err
	}
	kind, err := env.PayloadKind()
	if err != nil {
		return Attached{}, err
	}
	ann := map[string]string{
		AnnotationKind:    kind,
		AnnotationKeyIDs:  strings.Join(env.SignerKeyIDs(), ","),
		AnnotationCreated: createdTime(o.Created),
	}
	title := ""
	switch kind {
	case "link":
		link, err := attest.ParseLink(env.Payload)
		if err != nil {
			return Attached{}, err
		}
		ann[AnnotationStep] = link.Name
		title = attest.LinkFileName(link.Name, firstKeyID(env))
	case "layout":
		layout, err := attest.ParseLayout(env.Payload)
		if err != nil {
			return Attached{}, err
		}
		ann[AnnotationExpires] = layout.Expires
		title = "root.layout"
		if o.Step != "" {
			ann[AnnotationStep] = o.Step
			title = attest.LinkFileName(o.Step, firstKeyID(env))
		}
	default:
		return Attached{}, fmt.Errorf("a %q document is neither an in-toto layout nor a link", kind)
	}
	if len(env.Signatures) == 0 {
		return Attached{}, errors.New("the document is not signed")
	}
	return AttachReferrer(ctx, s, subject, Referrer{
		ArtifactType:   ArtifactType(kind, env.Form),
		LayerMediaType: LayerMediaType(env.Form),
		Data:           file,
		Title:          title,
		Annotations:    ann,
	})
}

// findAttached looks among subject's referrers for one that already holds
// the envelope layer (titled title, unless title is empty): by the
// annotation in the listing, then confirmed from the manifest itself. It
// also returns the bytes the envelopes the listing carries already
// (AnnotationEnvelopeData) take in it, encoded, for inlineable.
func findAttached(ctx context.Context, s Store, subject ocispec.Descriptor, artifactType string, layer digest.Digest, title string) (ocispec.Descriptor, bool, int, error) {
	list, err := ListReferrers(ctx, s, subject, "", 0)
	if err != nil {
		return ocispec.Descriptor{}, false, 0, err
	}
	inlined := 0
	for _, d := range list {
		if data, ok := d.Annotations[AnnotationEnvelopeData]; ok {
			inlined += encodedLen(data)
		}
	}
	for _, d := range list {
		if d.Annotations[AnnotationEnvelopeDigest] != layer.String() {
			continue
		}
		m, err := FetchManifest(ctx, s, d, DefaultMaxManifestBytes)
		if err != nil {
			continue
		}
		if m.Subject != nil && m.Subject.Digest == subject.Digest && m.ArtifactType == artifactType && len(m.Layers) == 1 && m.Layers[0].Digest == layer &&
			(title == "" || m.Layers[0].Annotations[AnnotationTitle] == title) {
			return d, true, inlined, nil
		}
	}
	return ocispec.Descriptor{}, false, inlined, nil
}

func firstKeyID(env *attest.Envelope) string {
	for _, s := range env.Signatures {
		if s.KeyID != "" {
			return s.KeyID
		}
	}
	return "00000000"
}

func createdTime(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(time.RFC3339)
}

// pushIfAbsent pushes data unless the store has it already, so that a retry
// or a second attach pushes nothing twice; a push cut on the way is begun
// again (see pushRestarting).
func pushIfAbsent(ctx context.Context, s Store, desc ocispec.Descriptor, data []byte) error {
	return pushRestarting(ctx, s, desc, func() (io.Reader, error) { return bytes.NewReader(data), nil }, true)
}

// FetchManifest fetches and decodes an image manifest, checked against its
// descriptor's digest and size and refused above limit.
func FetchManifest(ctx context.Context, s content.Fetcher, desc ocispec.Descriptor, limit int64) (*ocispec.Manifest, error) {
	data, err := fetchAll(ctx, s, desc, limit)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := unmarshalStrict(data, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("manifest %s has media type %q, not an OCI image manifest", desc.Digest, m.MediaType)
	}
	return &m, nil
}

func specsVersioned() specs.Versioned { return specs.Versioned{SchemaVersion: 2} }

func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// unmarshalStrict decodes JSON and refuses trailing data.
func unmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}
