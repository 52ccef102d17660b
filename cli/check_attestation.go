package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// checkAttestations evaluates prog over the attestations of predicate
// type attached to image that the key in keyFile signed and that are
// about image's digest, exactly as verification evaluates a layout's
// attestation check (verify.CheckAttestations); none is a failed check,
// not an error.
func checkAttestations(c *cli.Context, prog *check.Program, o oci.Options, image, predicateType, keyFile string) ([]checkJSON, error) {
	key, err := attest.LoadPublicKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--signed-by: %w", err)
	}
	s, ref, desc, err := oci.OpenResolved(c.Context, image, o)
	if err != nil {
		return nil, err
	}
	// Only statements the key signed are read: junk costs a signature
	// check.
	atts, err := oci.FindAttestations(c.Context, s, desc, oci.AttestationOptions{PredicateType: predicateType, Keys: []*attest.Key{key},
		MaxManifestBytes: o.MaxManifestBytes, MaxBlobBytes: o.MaxBlobBytes})
	if err != nil {
		return nil, fmt.Errorf("reading the attestations of %s: %w", ref, err)
	}
	checks, fails := verify.CheckAttestations(c.Context, verify.AttestationQuery{PredicateType: predicateType, Keys: []*attest.Key{key}, Image: desc.Digest.String()}, verify.AttestationEvidence(atts), prog)
	var results []checkJSON
	for _, r := range checks {
		results = append(results, checkJSON{File: r.Attestation, Pass: r.Passed, Reason: r.Reason})
	}
	if len(checks) == 0 {
		reason := "no attestation of type " + predicateType + " signed by key " + key.ShortID() + " is about this image"
		if len(fails) > 0 {
			reason = fails[0].Reason
		}
		results = append(results, checkJSON{File: ref.Name() + "@" + desc.Digest.String(), Reason: reason})
	}
	return results, nil
}
