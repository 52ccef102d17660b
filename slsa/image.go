package slsa

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

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
	layout, err := VerifiedLayout(ctx, s, w, o)
	if err != nil {
		return w, Level(nil, nil), err
	}
	res := Level(layout, w.Report)
	if res.Invalid != "" {
		return w, res, &verify.NotVerifiedError{Failures: []verify.Failure{{Source: w.Report.Layout.Source, Reason: res.Invalid}}}
	}
	return w, res, nil
}

// VerifiedLayout returns the layout that w's verification verified: the
// one given in o.Layout, or the attached one it used, read again from s
// (its referrer is in w.Used). Either way its payload must hash to the
// digest the report names (verify.PayloadDigest), so what is returned is
// exactly the signed content verification checked.
//
// It stands in for a field verify.Walked does not have (the parsed layout
// verification used); once it has, this becomes a read of that field.
func VerifiedLayout(ctx context.Context, s content.Fetcher, w *verify.Walked, o verify.ImageOptions) (*attest.Layout, error) {
	if w == nil || w.Report == nil || !w.Report.Verified {
		return nil, errors.New("the supply chain is not verified, so no layout was")
	}
	want := w.Report.Layout.Digest
	parse := func(env *attest.Envelope) (*attest.Layout, bool, error) {
		if verify.PayloadDigest(env) != want {
			return nil, false, nil
		}
		l, err := attest.ParseLayout(env.Payload)
		if err != nil {
			return nil, true, fmt.Errorf("layout %s: %w", w.Report.Layout.Source, err)
		}
		return l, true, nil
	}
	if o.Layout != nil {
		if l, ok, err := parse(o.Layout.Envelope); ok || err != nil {
			return l, err
		}
		return nil, fmt.Errorf("layout %s is not the layout verified (%s)", o.Layout.Source, want)
	}
	limit := o.MaxBlobBytes
	if limit <= 0 {
		limit = oci.DefaultMaxBlobBytes
	}
	var nodes []*oci.Node
	if w.Graph != nil {
		for _, n := range w.Graph.Referrers {
			// The owner's layout hangs on the image and is not a link, an
			// artifact or a sublayout (which names its step); those
			// referee attached say they are layouts, so they are read
			// first, then those of other tools, which say nothing.
			kind := n.Annotations[oci.AnnotationKind]
			if !w.Used[n.Digest] || (kind != "" && kind != "layout") || n.Annotations[oci.AnnotationStep] != "" {
				continue
			}
			if kind == "layout" {
				nodes = append([]*oci.Node{n}, nodes...)
			} else {
				nodes = append(nodes, n)
			}
		}
	}
	var problem error
	for _, n := range nodes {
		for _, layer := range n.Layers() {
			if layer.Size > limit {
				continue // the layout verification read was within the limit
			}
			data, err := oci.FetchBlob(ctx, s, layer, limit)
			if err != nil {
				if problem == nil {
					problem = fmt.Errorf("reading referrer %s: %w", n.Digest, err)
				}
				continue
			}
			env, err := attest.ParseEnvelope(data)
			if err != nil {
				continue
			}
			if l, ok, err := parse(env); ok || err != nil {
				return l, err
			}
		}
	}
	if problem != nil {
		return nil, fmt.Errorf("the layout verified (%s) could not be read again: %w", want, problem)
	}
	return nil, fmt.Errorf("the layout verified (%s) is not among the referrers verification used", want)
}
