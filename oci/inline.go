package oci

import (
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// inlineable reports whether an envelope of data, attached as
// artifactType, is carried in its manifest's annotations
// (AnnotationEnvelopeData), given the bytes the carried envelopes of the
// subject's listing take in it already (encodedLen): it is an envelope,
// not an artifact referrer's file; UTF-8, as an annotation (a JSON
// string) must be to keep its bytes; small (InlineLayoutMax for a layout,
// InlineEnvelopeMax for any other envelope); and the listing
// keeps within InlineListingMax, counted as encoded: a registry's JSON
// may write each '<', '>' and '&' in six bytes.
func inlineable(artifactType string, data []byte, listed int) bool {
	limit := InlineEnvelopeMax
	switch artifactType {
	case ArtifactTypeLayoutDSSE, ArtifactTypeLayoutMetablock:
		limit = InlineLayoutMax
	case ArtifactTypeArtifact:
		return false // a file, never an envelope
	}
	if len(data) > limit || !utf8.Valid(data) {
		return false
	}
	n := encodedLen(string(data))
	return n <= 2*len(data) && listed+n <= InlineListingMax
}

// encodedLen is the most bytes s takes as a JSON string, quotes and all,
// as encoding/json writes it with HTML escaping (the most any registry's
// encoder writes): six for '<', '>', '&', U+2028, U+2029 and control
// characters other than \n, \r, \t; two for '"', '\\' and those three.
func encodedLen(s string) int {
	n := 2
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}

// inlineEnvelope returns the envelope a listing entry carries in its
// annotations (AnnotationEnvelopeData) when those bytes have the digest dg
// (the entry's AnnotationEnvelopeDigest) and fit within the reader's
// limits, taking their room as fetchByDigest does; false when the entry
// carries none or cannot be used, and the blob is then fetched. The bytes
// are then the blob dg would have been: whatever the listing says, they are
// used only where that blob would be (reader.speculation).
func (r *reader) inlineEnvelope(listed ocispec.Descriptor, dg digest.Digest) ([]byte, hold, bool) {
	v, ok := listed.Annotations[AnnotationEnvelopeData]
	if !ok || int64(len(v)) > r.maxBlob || !dg.Algorithm().Available() {
		return nil, hold{}, false
	}
	data := []byte(v)
	if dg.Algorithm().FromBytes(data) != dg {
		return nil, hold{}, false
	}
	h, ok := r.tryTake(int64(len(data)))
	if !ok {
		return nil, hold{}, false
	}
	if err := r.bud.spend(len(data)); err != nil {
		r.release(h)
		return nil, hold{}, false
	}
	return data, h, true
}

// withoutCarried returns annotations without the envelope they may carry
// (AnnotationEnvelopeData): a Node's annotations say what a referrer is
// (discover prints them); the envelope is read as a blob or from the
// listing, never from there.
func withoutCarried(annotations map[string]string) map[string]string {
	if _, ok := annotations[AnnotationEnvelopeData]; !ok {
		return annotations
	}
	out := make(map[string]string, len(annotations)-1)
	for k, v := range annotations {
		if k != AnnotationEnvelopeData {
			out[k] = v
		}
	}
	return out
}
