package promote

import (
	"context"
	"errors"
	"fmt"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// CheckOptions says how an image is accepted: by a verification summary
// from a trusted promoter (VSAKeys), by full verification (Full, when it
// has layout keys), or the first of these that succeeds.
type CheckOptions struct {
	VSAKeys []*attest.Key
	// VSAMaxAge refuses summaries verified longer ago; zero means any age.
	VSAMaxAge time.Duration
	Full      verify.ImageOptions
	OCI       oci.Options
	// Deadline bounds the check of one image, every request and listing
	// together; past it the outcome is a *oci.TimeoutError naming the
	// image's registry. Zero means none. CheckMany gives each image its
	// own deadline, so a registry that hangs for one image does not stop
	// the others.
	Deadline time.Duration
	// Floors are minimum layout versions by image set (the repository
	// HOST/REPO): for each image the first that matches raises
	// Full.MinLayoutVersion, so that deleting an image's newest layout
	// cannot bring back an older one.
	Floors layoutref.Floors
}

// Outcome is the result for one image.
type Outcome struct {
	// Ref is the reference as given; Image the digest it resolved to.
	Ref, Image string
	// VSA is set when a verification summary was accepted.
	VSA *Accepted
	// Report is set when the image was verified in full.
	Report *verify.Report
	// Err is nil when the image is accepted, a *verify.NotVerifiedError
	// when it is not, or another error when it could not be checked.
	Err error
}

// Verified reports whether the image was accepted.
func (o Outcome) Verified() bool { return o.Err == nil }

// Check resolves ref once and accepts the image by a VSA signed by one of
// o.VSAKeys, falling back to full verification when o.Full has layout keys.
func Check(ctx context.Context, ref string, o CheckOptions) Outcome {
	out := Outcome{Ref: ref}
	s, r, desc, listing, err := openResolved(ctx, ref, o)
	if err != nil {
		out.Err = err
		return out
	}
	o.Full.Discover.Listed = listing
	out.Image = desc.Digest.String()
	if floor := o.Floors.For(r.Name()); floor > o.Full.MinLayoutVersion {
		o.Full.MinLayoutVersion = floor
	}
	var vsaErr error
	switch {
	case len(o.VSAKeys) > 0 && o.Full.MinLayoutVersion > 0:
		// A summary does not say which layout version it verified against.
		vsaErr = fmt.Errorf("%w: a minimum layout version asks for full verification", ErrNoVSA)
	case len(o.VSAKeys) > 0:
		policy := VSAPolicy{Keys: o.VSAKeys, MaxAge: o.VSAMaxAge}
		if o.Full.Layout != nil {
			policy.Layout = verify.PayloadDigest(o.Full.Layout.Envelope)
		}
		out.VSA, vsaErr = CheckVSA(ctx, s, desc, policy)
		if vsaErr == nil {
			return out
		}
		if !errors.Is(vsaErr, ErrNoVSA) {
			out.Err = vsaErr
			return out
		}
	}
	if len(o.Full.LayoutKeys) == 0 {
		out.Err = &verify.NotVerifiedError{Failures: []verify.Failure{{Reason: fmt.Sprintf("%v; no --layout-key to fall back to full verification", vsaErr)}}}
		return out
	}
	out.Report, out.Err = verify.Image(ctx, s, desc, o.Full)
	return out
}

// openResolved is oci.OpenResolved; for an image named by digest in a
// registry, to be verified in full, it also lists the image's referrers
// (oci.ListAhead) while it resolves the digest: the listing needs only
// the digest, so both take one round trip. A listing that fails is left
// for verification to try again and report.
func openResolved(ctx context.Context, ref string, o CheckOptions) (oci.Store, oci.Reference, ocispec.Descriptor, *oci.Listing, error) {
	r, err := oci.ParseReference(ref)
	if err != nil || r.IsLayout() || r.Digest == "" || len(o.VSAKeys) > 0 || len(o.Full.LayoutKeys) == 0 {
		s, r, desc, err := oci.OpenResolved(ctx, ref, o.OCI)
		return s, r, desc, nil, err
	}
	s, err := oci.Open(ctx, r, o.OCI)
	if err != nil {
		return nil, oci.Reference{}, ocispec.Descriptor{}, nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var listing *oci.Listing
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		listing, _ = oci.ListAhead(lctx, s, r.Digest, o.Full.Discover)
	}()
	desc, err := oci.Resolve(ctx, s, r)
	if err != nil {
		cancel()
		<-listed
		return nil, oci.Reference{}, ocispec.Descriptor{}, nil, err
	}
	<-listed
	return s, r.WithDigest(desc.Digest), desc, listing, nil
}

// CheckMany checks refs with at most parallel at once (1 means one after
// the other) and calls report for each outcome in the order of refs, as
// soon as it and all before it are done. The images checked at once
// share one bound on the evidence they hold in memory,
// o.Full.Discover.Budget, by default oci.NewBudget(0), and one HTTP
// client (unless o.OCI has one), so that their requests to a registry
// reuse connections (oci.Options.ForBatch).
func CheckMany(ctx context.Context, refs []string, o CheckOptions, parallel int, report func(Outcome) error) error {
	if parallel < 1 {
		parallel = 1
	}
	if o.Full.Discover.Budget == nil {
		o.Full.Discover.Budget = oci.NewBudget(0)
	}
	if o.Full.Discover.Memo == nil {
		// The images of a batch often share their layout: its signature
		// is checked and its payload parsed once.
		o.Full.Discover.Memo = attest.NewMemo()
	}
	if l := o.Full.Layout; l != nil && l.Envelope != nil {
		// The layout given, the same for every image: a copy that
		// shares the batch's memo, so that the caller's is unchanged.
		env, cand := *l.Envelope, *l
		env.Memoize(o.Full.Discover.Memo)
		cand.Envelope = &env
		o.Full.Layout = &cand
	}
	if len(refs) > 1 {
		// A transport that cannot be built (a --ca-file that does not
		// read) is left to fail each image as it would alone.
		if shared, done, err := o.OCI.ForBatch(parallel * batchConnsPerImage); err == nil {
			defer done()
			o.OCI = shared
		}
	}
	outs := make([]chan Outcome, len(refs))
	for i := range outs {
		outs[i] = make(chan Outcome, 1)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	go func() {
		for i, r := range refs {
			g.Go(func() error {
				outs[i] <- checkWithin(gctx, r, o)
				return nil
			})
		}
	}()
	for i := range refs {
		select {
		case out := <-outs[i]:
			if err := report(out); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Wait()
}

// batchConnsPerImage is about how many requests one image of a batch has
// in flight at once (its referrers' manifests and envelopes), for the
// idle connections a batch keeps per registry.
const batchConnsPerImage = 16

// checkWithin is Check bounded by o.Deadline.
func checkWithin(ctx context.Context, ref string, o CheckOptions) Outcome {
	registry := "" // an OCI layout: the message names it in ref
	if r, err := oci.ParseReference(ref); err == nil {
		registry = r.Registry
	}
	ctx, cancel := oci.WithDeadline(ctx, o.Deadline, registry, "checking "+ref)
	defer cancel()
	out := Check(ctx, ref, o)
	out.Err = oci.DeadlineError(ctx, out.Err)
	return out
}

// DefaultParallel is how many images CheckMany's callers check at once by
// default (`verify -`, --parallel): on a registry 20 ms away an image named
// by digest takes one round trip (two requests: the resolution and the
// listing, which carries its envelopes) and about a millisecond of CPU, so
// that a batch is bound by the CPU once its round trips overlap: 100 images
// at 128 at once are one wave, 22.2x one at a time, against 19.1–22.3x at
// 64, two waves (`go run ./bench --only many`). The evidence they hold is
// bounded by the shared budget (oci.NewBudget), not by this.
const DefaultParallel = 128
