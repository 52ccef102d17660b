package slsa

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// Image verifies image from s exactly as verify.ImageWalk does and
// returns the Build level its verified evidence supports, with what the
// walk verified. The error is ImageWalk's: a *verify.NotVerifiedError
// when the supply chain does not verify (the Result is then L0, saying
// why), or a *verify.NotVerifiedError for a layout whose SLSA declaration
// is malformed (Result.Invalid), or a problem reaching the store.
func Image(ctx context.Context, s oci.Store, image ocispec.Descriptor, o verify.ImageOptions) (*verify.Walked, Result, error) {
	w, err := verify.ImageWalk(ctx, s, image, o)
	if w == nil {
		return nil, Result{}, err
	}
	if err != nil {
		return w, Level(nil, w.Report), err
	}
	layout, err := VerifiedLayout(w, o)
	if err != nil {
		return w, Level(nil, nil), err
	}
	res := Level(layout, w.Report)
	if res.Invalid != "" {
		return w, res, &verify.NotVerifiedError{Failures: []verify.Failure{{Source: w.Report.Layout.Source, Reason: res.Invalid}}}
	}
	return w, res, nil
}

// VerifiedLayout returns the layout that w's verification verified
// (verify.Walked.Layout); with o.Layout given, that layout, whose payload
// must hash to the digest the report names (verify.PayloadDigest), so
// that what is returned is exactly the signed content verification
// checked.
func VerifiedLayout(w *verify.Walked, o verify.ImageOptions) (*attest.Layout, error) {
	if w == nil || w.Report == nil || !w.Report.Verified {
		return nil, errors.New("the supply chain is not verified, so no layout was")
	}
	want := w.Report.Layout.Digest
	if o.Layout != nil && verify.PayloadDigest(o.Layout.Envelope) != want {
		return nil, fmt.Errorf("layout %s is not the layout verified (%s)", o.Layout.Source, want)
	}
	if w.Layout == nil {
		return nil, fmt.Errorf("the walk does not say which layout it verified (%s)", want)
	}
	return w.Layout, nil
}
