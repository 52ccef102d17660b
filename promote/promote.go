// Package promote moves an image to another repository only if its supply
// chain verifies, and leaves there a signed SLSA Verification Summary
// Attestation (VSA) that later consumers can check cheaply.
package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/slsa"
	"github.com/referee-dev/referee/verify"
)

// Options controls Promote.
type Options struct {
	// Verify is how the source is verified, exactly as `referee verify`.
	Verify verify.ImageOptions
	// Signer signs the VSA (the promoter's key).
	Signer *attest.Signer
	// Levels are the verified levels the VSA records; empty means
	// DefaultLevels and the SLSA Build level the verified evidence
	// supports (slsa.Level: SLSA_BUILD_LEVEL_N). A SLSA Build level given
	// that the evidence does not support refuses the promotion (not
	// verified); other values starting with SLSA_ are refused, as SLSA
	// reserves them.
	Levels []string
	// DryRun verifies and reports what would be copied, copying nothing.
	DryRun bool
	// Now is the verification time recorded; zero means the current time.
	Now time.Time
	// Progress is called as the copy goes (see oci.CopyOptions).
	Progress func(items int, bytes int64)
	// DstLayout is dst's directory when dst is an OCI layout (see
	// oci.CopyOptions).
	DstLayout string
	// CopyTypes are artifact types (read from each referrer's manifest:
	// artifactType, or else the config's media type) of other referrers
	// to copy as well, such as another tool's SBOM or signature: those
	// verification listed, of the image or of a sublayout copied. Their
	// own referrers are not copied (verification does not list them). One
	// beyond the limits verification uses is left out (Result.LeftOut).
	CopyTypes []string
}

// DefaultLevels is what a VSA records when no level is given, beside the
// SLSA Build level the evidence supports: the in-toto layout was verified
// by referee.
var DefaultLevels = []string{"IN_TOTO_LAYOUT_VERIFIED"}

// Result is what Promote did.
type Result struct {
	Report *verify.Report
	// Graph is the referrer graph that was (or, with DryRun, would be)
	// copied, as verification read it: the layout, links and sublayouts
	// it used and the referrers of Options.CopyTypes, not the summary
	// attached after.
	Graph *oci.Node
	// LeftOut lists the referrers of Options.CopyTypes not copied
	// (beyond a limit), and why.
	LeftOut []oci.Skipped
	// Cosign is the copy of cosign's legacy attestations that
	// verification counted (layers of the image's sha256-<hex>.att tag,
	// which is no referrer): the layers carried and those the
	// destination's tag lacked, written (or, with DryRun, that would be);
	// nil when verification counted none.
	Cosign *oci.CosignCopy
	// SLSA is the SLSA Build level the verified evidence supports, with
	// why; nil when verification failed.
	SLSA *slsa.Result
	// Levels are the verified levels the VSA records (or, with DryRun,
	// would record).
	Levels []string
	// VSA is the referrer that holds the summary in the destination;
	// VSAExisted is true when an equivalent one was already there.
	VSA        ocispec.Descriptor
	VSAExisted bool
}

// Promote verifies src's image (desc) from src alone; only if it verifies,
// copies to dst (tagged dstTag when not empty) the image and exactly the
// evidence verification read and used — the layout, the links counted,
// the sublayouts counted and their links counted, as read in that one walk
// of src's referrers, never listed again, and the attestations its checks
// counted (cosign's legacy ones added to dst's sha256-<hex>.att tag,
// keeping what that tag holds; see oci.PlanCosignCopy) — and the
// referrers of o.CopyTypes that walk listed, then attaches to the copy a
// VSA signed by o.Signer naming the layout and the result. Every blob of a referrer is
// bounded as verification bounds envelopes (o.Verify.MaxBlobBytes) and
// all of them together by oci.DefaultMaxTotalBytes; the image's own blobs
// are not. On failure nothing is copied and the returned report says why
// (with a *verify.NotVerifiedError); evidence that cannot be copied within
// the limits is an error before anything is copied. Promoting again to the
// same destination copies nothing new and adds no second VSA for the same
// layout, promoter and levels. The summary's verifiedLevels are o.Levels,
// or DefaultLevels and the SLSA Build level the verified evidence supports
// (https://slsa.dev/spec/v1.0/levels); a SLSA Build level in o.Levels that
// the evidence does not support refuses the promotion, nothing copied,
// with a *verify.NotVerifiedError naming the level and the requirement
// not met.
func Promote(ctx context.Context, src oci.Store, srcName string, desc ocispec.Descriptor, dst oci.Store, dstName, dstTag string, o Options) (*Result, error) {
	if o.Signer == nil && !o.DryRun {
		return nil, errors.New("promote needs the promoter's key to sign the verification summary")
	}
	if err := checkLevels(o.Levels); err != nil {
		return nil, err
	}
	w, err := verify.ImageWalk(ctx, src, desc, o.Verify)
	res := &Result{}
	if w != nil {
		res.Report = w.Report
	}
	if err != nil {
		return res, err
	}
	levels, sr, err := verifiedLevels(w, o)
	res.SLSA, res.Levels = sr, levels
	if nv := (*verify.NotVerifiedError)(nil); errors.As(err, &nv) {
		res.Report = refused(res.Report, nv.Failures)
		return res, err
	} else if err != nil {
		return res, err
	}
	types := map[string]bool{}
	for _, t := range o.CopyTypes {
		types[t] = true
	}
	graph := w.Graph.Select(func(n *oci.Node) bool { return w.Used[n.Digest] || types[n.ArtifactType] })
	leftOut := map[string]bool{}
	co := oci.CopyOptions{
		Discover:     o.Verify.Discover,
		Graph:        graph,
		MaxBlobBytes: o.Verify.MaxBlobBytes,
		Require:      func(n *oci.Node) bool { return w.Used[n.Digest] },
		LeftOut: func(s oci.Skipped) {
			leftOut[s.Digest] = true
			res.LeftOut = append(res.LeftOut, s)
		},
		DryRun:    o.DryRun,
		Progress:  o.Progress,
		DstLayout: o.DstLayout,
	}
	// cosign's legacy attestations are planned (and refused beyond the
	// limits) before anything is copied, and written after the image.
	cc, err := oci.PlanCosignCopy(ctx, src, dst, desc, w.Attestations, oci.CosignCopyOptions{
		MaxManifestBytes: o.Verify.Discover.MaxManifestBytes,
		MaxBlobBytes:     o.Verify.MaxBlobBytes,
		DstLayout:        o.DstLayout,
	})
	if err != nil {
		return res, fmt.Errorf("copying cosign's attestations of %s: %w", desc.Digest, err)
	}
	res.Cosign = cc
	err = oci.Copy(ctx, src, dst, desc, dstTag, co)
	res.Graph = graph.Select(func(n *oci.Node) bool { return !leftOut[n.Digest] })
	if err != nil {
		return res, err
	}
	if o.DryRun {
		return res, nil
	}
	if cc != nil {
		if err := cc.Write(ctx); err != nil {
			return res, fmt.Errorf("copying cosign's attestations of %s: %w", desc.Digest, err)
		}
	}
	report := res.Report
	// An existing summary stands for this promotion only if it says the
	// same: the same layout and the same verified levels.
	if prior, ok, _, err := findVSA(ctx, dst, desc, VSAPolicy{Keys: []*attest.Key{o.Signer.Key()}, Layout: report.Layout.Digest}); err != nil {
		return res, err
	} else if ok && sameLevels(prior.Summary.Levels, levels) {
		res.VSA, res.VSAExisted = prior.Referrer, true
		return res, nil
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	sum := Summary{
		Image:       desc.Digest.String(),
		ResourceURI: dstName + "@" + desc.Digest.String(),
		Layout:      report.Layout.Digest,
		LayoutURI:   srcName + " " + report.Layout.Source,
		Result:      "PASSED",
		Levels:      levels,
		Time:        now,
		Verifier:    VerifierID,
	}
	payload, err := sum.Statement()
	if err != nil {
		return res, err
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, o.Signer)
	if err != nil {
		return res, err
	}
	data, err := env.Marshal()
	if err != nil {
		return res, err
	}
	a, err := oci.AttachReferrer(ctx, dst, desc, oci.Referrer{
		ArtifactType:   oci.ArtifactTypeStatementDSSE,
		LayerMediaType: oci.MediaTypeDSSE,
		Data:           data,
		Title:          "vsa.intoto.jsonl",
		Annotations: map[string]string{
			oci.AnnotationPredicateType: PredicateTypeVSA,
			oci.AnnotationKeyIDs:        o.Signer.Key().KeyID,
		},
	})
	if err != nil {
		return res, fmt.Errorf("attaching the verification summary: %w", err)
	}
	res.VSA = a.Manifest
	return res, nil
}

// Accepted is a VSA that passed CheckVSA.
type Accepted struct {
	Summary  *Summary
	Referrer ocispec.Descriptor
	KeyID    string
}

// ErrNoVSA is returned when no acceptable VSA is attached.
var ErrNoVSA = errors.New("no acceptable verification summary")

// VSAPolicy says which verification summaries are acceptable.
type VSAPolicy struct {
	// Keys are the trusted promoters.
	Keys []*attest.Key
	// Layout, when set, is the layout digest (see verify.PayloadDigest)
	// the summary must name: a pinned layout.
	Layout string
	// MaxAge refuses summaries older than this; zero means any age.
	MaxAge time.Duration
}

// CheckVSA looks among desc's referrers for a VSA signed by one of the
// policy's keys, made by referee, about exactly this digest, whose result
// is PASSED, and that meets the policy's layout and age. It needs a fixed
// number of requests: one listing (filtered by artifact type), then the
// manifest and envelope of each summary. The listing's word on types is
// only used to skip referrers; everything accepted is read from the
// manifest and the signed statement.
func CheckVSA(ctx context.Context, s oci.Store, desc ocispec.Descriptor, p VSAPolicy) (*Accepted, error) {
	a, ok, why, err := findVSA(ctx, s, desc, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		msg := fmt.Sprintf("for %s signed by %s", desc.Digest, keyList(p.Keys))
		if len(why) > 0 {
			msg += ": " + strings.Join(why, "; ")
		}
		return nil, fmt.Errorf("%w %s", ErrNoVSA, msg)
	}
	return a, nil
}

// findVSA finds a VSA for desc that p accepts. The listing's artifact
// type only chooses which referrers to read (a listing that lies can only
// hide a summary, and then full verification or failure follows); each
// candidate's manifest and statement are read and checked. Why says why
// each summary that a trusted key did sign was not accepted (what others
// say is not repeated: it is unsigned).
func findVSA(ctx context.Context, s oci.Store, desc ocispec.Descriptor, p VSAPolicy) (a *Accepted, ok bool, why []string, err error) {
	list, err := oci.ListReferrers(ctx, s, desc, oci.ArtifactTypeStatementDSSE, 0)
	if err != nil {
		return nil, false, nil, err
	}
	for _, d := range list {
		if d.ArtifactType != oci.ArtifactTypeStatementDSSE {
			continue
		}
		m, err := oci.FetchManifest(ctx, s, d, oci.DefaultMaxManifestBytes)
		if err != nil || m.Subject == nil || m.Subject.Digest != desc.Digest || m.ArtifactType != oci.ArtifactTypeStatementDSSE || len(m.Layers) != 1 {
			continue
		}
		data, err := oci.FetchBlob(ctx, s, m.Layers[0], oci.DefaultMaxBlobBytes)
		if err != nil {
			continue
		}
		env, err := attest.ParseEnvelope(data)
		if err != nil || env.Form != attest.FormDSSE {
			continue
		}
		i := slices.IndexFunc(p.Keys, func(k *attest.Key) bool { return env.VerifyKey(k) == nil })
		if i < 0 {
			continue
		}
		sum, err := ParseSummary(env.Payload, desc.Digest.String())
		reason := ""
		switch {
		case err != nil:
			reason = err.Error()
		case sum.Result != "PASSED":
			reason = fmt.Sprintf("its result is %q", sum.Result)
		case sum.Verifier != VerifierID:
			reason = fmt.Sprintf("it was made by %q, not referee", sum.Verifier)
		case p.Layout != "" && sum.Layout != p.Layout:
			reason = fmt.Sprintf("it names layout %s, not the pinned %s", sum.Layout, p.Layout)
		case p.MaxAge > 0 && time.Since(sum.Time) > p.MaxAge:
			reason = fmt.Sprintf("it was verified at %s, longer ago than the maximum age %s", sum.Time.Format(time.RFC3339), p.MaxAge)
		}
		if reason != "" {
			why = append(why, fmt.Sprintf("summary %s: %s", d.Digest, termsafe.Quote(reason)))
			continue
		}
		return &Accepted{Summary: sum, Referrer: d, KeyID: p.Keys[i].KeyID}, true, nil, nil
	}
	return nil, false, why, nil
}

func keyList(keys []*attest.Key) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ShortID()
	}
	return strings.Join(ids, ", ")
}

// sameLevels reports whether two lists of verified levels hold the same
// levels, in any order.
func sameLevels(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, l := range a {
		seen[l]++
	}
	for _, l := range b {
		if seen[l]--; seen[l] < 0 {
			return false
		}
	}
	return true
}
