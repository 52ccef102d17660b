package verify

import (
	"fmt"
	"strings"

	"github.com/referee-dev/referee/attest"
)

// keyVerifier checks a signed document's signatures against a key: an
// *attest.Envelope, or an *attest.SignedContent whose signed bytes are
// already computed.
type keyVerifier interface {
	VerifyKey(*attest.Key) error
}

// signers returns the distinct authorised functionary keys of step with
// one of sigs (a document's signatures, checked by v), or why none has.
func signers(sigs []attest.Signature, v keyVerifier, layout *attest.Layout, step *attest.Step) (ids, fps []string, reject string) {
	seen := map[string]bool{}
	var problems []string
	for _, id := range step.PubKeys {
		if seen[id] {
			continue
		}
		seen[id] = true
		k := layout.Keys[id]
		if err := v.VerifyKey(k); err != nil {
			if triedBy(sigs, k) {
				problems = append(problems, err.Error())
			}
			continue
		}
		fp := keyFingerprint(k)
		dup := false
		for _, f := range fps {
			dup = dup || f == fp
		}
		if !dup {
			ids = append(ids, id)
			fps = append(fps, fp)
		}
	}
	if len(ids) > 0 {
		return ids, fps, ""
	}
	if len(problems) > 0 {
		return nil, nil, strings.Join(problems, "; ")
	}
	claimed := make([]string, len(sigs))
	for i, s := range sigs {
		claimed[i] = short(s.KeyID)
	}
	return nil, nil, fmt.Sprintf("not signed by a functionary of step %q (signatures claim keys %s; authorised: %s)", step.Name, strings.Join(claimed, ", "), shortList(step.PubKeys))
}

// keyFingerprint identifies a key by its material (attest.Key.Fingerprint),
// whatever PEM text or keyid the layout gave it.
func keyFingerprint(k *attest.Key) string {
	if fp := k.Fingerprint(); fp != "" {
		return fp
	}
	return k.KeyID
}

// triedBy reports whether sigs has a signature that Envelope.VerifyKey
// tries with k: one whose keyid names k, or one without a keyid. Only
// such a signature that does not verify is a problem with the evidence;
// the others are another functionary's.
func triedBy(sigs []attest.Signature, k *attest.Key) bool {
	for _, s := range sigs {
		if s.KeyID == "" || k.HasID(s.KeyID) {
			return true
		}
	}
	return false
}
