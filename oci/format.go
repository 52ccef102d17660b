// Package oci keeps in-toto layouts and links in OCI registries and OCI
// image-layout directories as referrers of the image they describe
// (OCI image-spec and distribution-spec v1.1), and gets them back.
package oci

import (
	"strings"

	"github.com/referee-dev/referee/attest"
)

// Artifact types of referee's referrers: what the artifact is (an in-toto
// v1.0 layout or link) and its envelope form. They are also the config
// blob's media type, because registries built on go-containerregistry
// report a referrer's type from config.mediaType and ignore artifactType.
// See docs/format.md for why these names.
// https://github.com/opencontainers/image-spec/blob/v1.1.1/manifest.md#guidelines-for-artifact-usage
const (
	ArtifactTypeLayoutDSSE      = "application/vnd.referee.in-toto.layout.v1.dsse+json"
	ArtifactTypeLayoutMetablock = "application/vnd.referee.in-toto.layout.v1.metablock+json"
	ArtifactTypeLinkDSSE        = "application/vnd.referee.in-toto.link.v1.dsse+json"
	ArtifactTypeLinkMetablock   = "application/vnd.referee.in-toto.link.v1.metablock+json"
)

// Media types of the one layer that holds the signed envelope: DSSE's own
// media type (as cosign uses it for DSSE attestations), and referee's name
// for the classic Metablock, which has none.
const (
	MediaTypeDSSE      = "application/vnd.dsse.envelope.v1+json"
	MediaTypeMetablock = "application/vnd.referee.in-toto.metablock.v1+json"
)

// Annotations on referee's referrer manifests. They let a reader filter
// without fetching blobs; they are hints only: verification reads the
// signed envelope.
const (
	// AnnotationKind is "layout", "link" or "artifact" (KindArtifact).
	AnnotationKind = "dev.referee.in-toto.kind"
	// AnnotationStep is the step a link records (or a sublayout stands for).
	AnnotationStep = "dev.referee.in-toto.step"
	// AnnotationKeyIDs lists the envelope's signer keyids, comma-separated.
	AnnotationKeyIDs = "dev.referee.in-toto.keyids"
	// AnnotationExpires is a layout's expiry (ISO 8601).
	AnnotationExpires = "dev.referee.in-toto.expires"
	// AnnotationEnvelopeDigest is the digest of the envelope layer (of an
	// artifact referrer: of its one layer, the file), so that attaching
	// the same file twice can be recognised without fetching, and so that
	// a reader of a referrers API listing (which carries the manifests'
	// annotations) fetches the envelope without reading the manifest
	// (DiscoverOptions.ListedEnvelopes; docs/format.md, "Verification in
	// two round trips").
	AnnotationEnvelopeDigest = "dev.referee.in-toto.envelope"
	// AnnotationEnvelopeData is the envelope itself, its bytes verbatim,
	// on the manifest of a small envelope (InlineEnvelopeMax,
	// InlineLayoutMax for a layout), so that a
	// reader of the referrers listing, which carries the manifests'
	// annotations, has it without fetching a blob (docs/format.md,
	// "Verification in one round trip"). It is used only when its bytes
	// have the digest AnnotationEnvelopeDigest names, and only as that
	// blob would be: the layer it stands for, or the listing's envelope.
	AnnotationEnvelopeData = "dev.referee.in-toto.envelope.data"
	// AnnotationCreated is the OCI standard creation time (RFC 3339).
	AnnotationCreated = "org.opencontainers.image.created"
	// AnnotationTitle names the layer's file (STEP.KEYID8.link or
	// root.layout), as oras pull uses it; on an artifact referrer, the
	// artifact's path, on the layer and the manifest alike.
	AnnotationTitle = "org.opencontainers.image.title"
)

// Limits of AnnotationEnvelopeData, so that a referrers listing stays well
// within the 4 MiB a page of it may take (DefaultMaxManifestBytes, and most
// registries' manifest limit, which a tag-schema index is subject to).
const (
	// InlineEnvelopeMax is the largest link carried in its manifest's
	// annotations: a link of some dozens of artifacts.
	InlineEnvelopeMax = 64 << 10
	// InlineLayoutMax is the largest layout carried so: a layout of some
	// hundreds of steps. A layout is the one document the others wait
	// for (its keys say which signatures count), so not carrying it
	// costs a round trip that nothing else overlaps.
	InlineLayoutMax = 256 << 10
	// InlineListingMax bounds the envelope bytes a subject's referrers
	// carry so, together: once its listing holds that much, further
	// envelopes are attached without AnnotationEnvelopeData.
	InlineListingMax = 1 << 20
)

// Artifact referrers: a file that is not a signed document (a scan report,
// an SBOM, a build product) attached to an image, so that inspections can
// be given it from the registry alone. Its one layer holds the file's bytes
// as they are, so the layer digest is sha256 of the file: exactly the hash
// a link records for it. See docs/format.md#artifact-referrers.
const (
	// ArtifactTypeArtifact is an artifact referrer's artifact type and
	// config media type. It claims no format for the file (its layer says
	// nothing either unless ArtifactOptions.MediaType is given).
	ArtifactTypeArtifact = "application/vnd.referee.artifact.v1"
	// MediaTypeArtifactLayer is the default media type of an artifact
	// referrer's layer.
	MediaTypeArtifactLayer = "application/octet-stream"
	// KindArtifact is AnnotationKind's value on an artifact referrer.
	KindArtifact = "artifact"
)

// ArtifactType returns the artifact type for a document of kind ("layout"
// or "link") in form.
func ArtifactType(kind string, form attest.Form) string {
	switch {
	case kind == "layout" && form == attest.FormMetablock:
		return ArtifactTypeLayoutMetablock
	case kind == "layout":
		return ArtifactTypeLayoutDSSE
	case form == attest.FormMetablock:
		return ArtifactTypeLinkMetablock
	}
	return ArtifactTypeLinkDSSE
}

// LayerMediaType returns the envelope layer's media type for form.
func LayerMediaType(form attest.Form) string {
	if form == attest.FormMetablock {
		return MediaTypeMetablock
	}
	return MediaTypeDSSE
}

// IsRefereeType reports whether t is one of referee's artifact types.
func IsRefereeType(t string) bool {
	switch t {
	case ArtifactTypeLayoutDSSE, ArtifactTypeLayoutMetablock, ArtifactTypeLinkDSSE, ArtifactTypeLinkMetablock:
		return true
	}
	return false
}

// mayHoldInToto reports whether a referrer of artifactType, or a layer of
// mediaType named title, may hold an in-toto envelope that another tool
// attached (oras attach --artifact-type application/vnd.in-toto+json
// build.1234abcd.link), so that it is worth fetching and parsing.
func mayHoldInToto(artifactType, mediaType, title string) bool {
	if artifactType == ArtifactTypeArtifact {
		return false // a file attached as it is, never evidence (see ArtifactSet)
	}
	if IsRefereeType(artifactType) || mediaType == MediaTypeDSSE || mediaType == MediaTypeMetablock {
		return true
	}
	for _, s := range []string{artifactType, mediaType} {
		if strings.Contains(s, "in-toto") || strings.Contains(s, "dsse") {
			return true
		}
	}
	return strings.HasSuffix(title, ".link") || strings.HasSuffix(title, ".layout")
}
