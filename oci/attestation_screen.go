package oci

import (
	"context"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/semaphore"

	"github.com/referee-dev/referee/attest"
)

// maxAttInFlight bounds the attestation blob bytes that ReadAttestations
// holds at once while fetching, decoding and screening them, so that
// many large candidates are read a few at a time rather than all at once
// (DefaultParallel); a blob larger than the bound takes all of it.
const maxAttInFlight = 2 * DefaultMaxBlobBytes

// attScreen is AttestationOptions.Keys: the keys a candidate must be
// signed by for its Statement to be read.
type attScreen struct {
	keys []*attest.Key
}

func newAttScreen(keys []*attest.Key) *attScreen {
	var ks []*attest.Key
	for _, k := range keys {
		if k != nil {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		return nil
	}
	return &attScreen{keys: ks}
}

// signed reports whether a signature of env verifies with one of the
// keys. Keys that no signature can be by (every signature names another
// keyid) are not tried, so that a large payload is hashed only for a key
// it claims.
func (s *attScreen) signed(env *attest.Envelope) bool {
	for _, k := range s.keys {
		claimed := false
		for _, sig := range env.Signatures {
			claimed = claimed || sig.KeyID == "" || k.HasID(sig.KeyID)
		}
		if claimed && env.VerifyKey(k) == nil {
			return true
		}
	}
	return false
}

// why says what a candidate that did not pass lacks.
func (s *attScreen) why(unsigned bool) string {
	ids := make([]string, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.ShortID()
	}
	what := "key " + ids[0]
	if len(ids) > 1 {
		what = "any of the keys " + strings.Join(ids, ", ")
	}
	if unsigned {
		return "an unsigned Statement, not signed by " + what
	}
	return "not signed by " + what
}

// acquire takes room for blob l among the bytes in flight; release gives
// it back.
func acquireInFlight(ctx context.Context, sem *semaphore.Weighted, l ocispec.Descriptor) (release func(), err error) {
	n := min(max(l.Size, 1), maxAttInFlight)
	if err := sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("reading %s: %w", l.Digest, err)
	}
	return func() { sem.Release(n) }, nil
}
