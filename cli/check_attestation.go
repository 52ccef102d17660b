package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
	"github.com/referee-dev/referee/oci"
)

// checkAttestations evaluates prog over the attestations of predicate
// type attached to image that the key in keyFile signed and that are
// about image's digest; none is a failed check, not an error.
func checkAttestations(c *cli.Context, prog *check.Program, o oci.Options, image, predicateType, keyFile string) ([]checkJSON, error) {
	key, err := attest.LoadPublicKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--signed-by: %w", err)
	}
	s, ref, desc, err := oci.OpenResolved(c.Context, image, o)
	if err != nil {
		return nil, err
	}
	atts, err := oci.FindAttestations(c.Context, s, desc, oci.AttestationOptions{PredicateType: predicateType, Keys: []*attest.Key{key}})
	if err != nil {
		return nil, fmt.Errorf("reading the attestations of %s: %w", ref, err)
	}
	var results []checkJSON
	for _, a := range atts {
		if a.Envelope == nil || a.Envelope.VerifyKey(key) != nil {
			continue
		}
		st, err := attest.ParseStatement(a.Envelope.Payload)
		if err != nil || st.PredicateType != predicateType || !st.NamesDigest(desc.Digest.String()) {
			continue
		}
		in, err := check.StatementInput(a.Source, a.Envelope.Payload)
		if err != nil {
			return nil, err
		}
		res, err := prog.Eval(c.Context, in)
		if err != nil {
			return nil, err
		}
		results = append(results, checkJSON{File: a.Source, Pass: res.Pass, Reason: res.Reason})
	}
	if len(results) == 0 {
		results = append(results, checkJSON{File: ref.Name() + "@" + desc.Digest.String(), Reason: fmt.Sprintf("no attestation of type %s signed by key %s is about this image (of %d found)", predicateType, key.ShortID(), len(atts))})
	}
	return results, nil
}
