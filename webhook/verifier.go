package webhook

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// Verifier resolves and verifies the images a Decider decides.
type Verifier interface {
	// Resolve returns the digest ref's tag names now.
	Resolve(ctx context.Context, ref oci.Reference, o oci.Options) (digest.Digest, error)
	// Verify verifies the image ref names by digest under rule's keys:
	// nil when it is verified, a *verify.NotVerifiedError when it is not,
	// any other error when it could not be checked.
	Verify(ctx context.Context, ref oci.Reference, rule *Rule, o oci.Options) error
}

// RegistryVerifier is the Verifier `referee verify` is: a promoter's
// verification summary signed by one of the rule's VSA keys is accepted,
// and otherwise the image is verified in full from its registry against
// the layout its layout keys signed (promote.Check). Layouts whose
// inspections run commands are refused (no Inspector): a webhook runs no
// command a layout names; native checks are evaluated in-process.
type RegistryVerifier struct {
	// VSAMaxAge refuses summaries verified longer ago, for rules without
	// a vsaMaxAge of their own; zero means any age.
	VSAMaxAge time.Duration
}

// Resolve resolves ref's tag once, on its registry.
func (RegistryVerifier) Resolve(ctx context.Context, ref oci.Reference, o oci.Options) (digest.Digest, error) {
	s, err := oci.Open(ctx, ref, o)
	if err != nil {
		return "", err
	}
	desc, err := oci.Resolve(ctx, s, ref)
	if err != nil {
		return "", err
	}
	return desc.Digest, nil
}

// Verify checks the digest ref names with promote.Check, or with
// promote.CheckVSA alone when the rule has no layout keys.
func (v RegistryVerifier) Verify(ctx context.Context, ref oci.Reference, rule *Rule, o oci.Options) error {
	maxAge := v.VSAMaxAge
	if rule.VSAMaxAge > 0 {
		maxAge = rule.VSAMaxAge
	}
	if len(rule.LayoutKeys) == 0 {
		s, _, desc, err := oci.OpenResolved(ctx, ref.String(), o)
		if err != nil {
			return err
		}
		_, err = promote.CheckVSA(ctx, s, desc, promote.VSAPolicy{Keys: rule.VSAKeys, MaxAge: maxAge})
		if errors.Is(err, promote.ErrNoVSA) {
			// The policy's words, not the command line's.
			return &verify.NotVerifiedError{Failures: []verify.Failure{{Reason: err.Error() + " (the policy has no layoutKeys for full verification)"}}}
		}
		return err
	}
	out := promote.Check(ctx, ref.String(), promote.CheckOptions{
		VSAKeys:   rule.VSAKeys,
		VSAMaxAge: maxAge,
		Full: verify.ImageOptions{
			Options:          verify.Options{LayoutKeys: rule.LayoutKeys},
			MinLayoutVersion: rule.MinLayoutVersion,
		},
		OCI: o,
	})
	return out.Err
}
