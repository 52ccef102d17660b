package oci

import (
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// inlineable reports whether an envelope of data is carried in its
// manifest's annotations (AnnotationEnvelopeData), given the envelope
// bytes the subject's listing carries so already: it is small
// (InlineEnvelopeMax), the listing keeps within InlineListingMax, and it
// is UTF-8, as an annotation (a JSON string) must be to keep its bytes.
func inlineable(data []byte, listed int) bool {
	return len(data) <= InlineEnvelopeMax && listed+len(data) <= InlineListingMax && utf8.Valid(data)
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
