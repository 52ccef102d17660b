// Package verify is referee's in-toto verification engine. It works on
// signed documents in memory: where they came from (a directory, a
// registry) is the caller's business, so the same engine serves local link
// directories and OCI referrers.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
)

// Evidence is one signed document offered as the link of a step. A
// sublayout (a layout signed by a step's functionary) carries its own links
// in Sub.
type Evidence struct {
	// Source names the evidence in reports: a file path or a digest.
	Source   string
	Envelope *attest.Envelope
	// StepHint is the step a sublayout stands for (layouts have no name of
	// their own; in-toto takes it from the file name STEP.KEYID8.link).
	// Links carry their step name in signed content and ignore it.
	StepHint string
	Sub      []Evidence

	// open reads Envelope when it is nil (OpenLinkDir), from a file of
	// fileSize bytes.
	open     func() (*attest.Envelope, error)
	fileSize int64
	// link and signed are Envelope's link as the gather read it
	// (oci.Document.ScannedLink), which examine takes rather than read
	// it again.
	link   *attest.CompactLink
	signed *attest.SignedContent
}

// Options controls verification.
type Options struct {
	// LayoutKeys must each have signed the layout (as in-toto-verify's -k).
	LayoutKeys []*attest.Key
	// Now is the time the layout's expiry is checked against; zero means
	// the current time.
	Now time.Time
	// Inspector runs command inspections; nil refuses layouts that have
	// any, since they execute commands the layout names. A native check
	// (an inspection whose run is `referee check …`) is evaluated
	// in-process whatever Inspector is: no command runs.
	Inspector Inspector
	// Artifacts gives inspections the bytes of the products verified links
	// record (a native check's files; a StagingInspector's directory);
	// nil: none are available.
	Artifacts Artifacts
	// Attestations are the DSSE envelopes of in-toto Statements found for
	// the image (Source says where from), which a native check with
	// --attestation reads; nil: none.
	Attestations []Evidence
	// MaxSublayoutDepth bounds nested sublayouts; zero means 8.
	MaxSublayoutDepth int
	// ImageDigest, when set ("sha256:<hex>"), is the image the evidence
	// must be about: the layout must name attest.ImageArtifact in some
	// step's expected products, and those steps' links must record this
	// digest. Verification from a registry always sets it, since a
	// referrer's subject field binds nothing.
	ImageDigest string

	// sublayoutSigner is set while verifying a sublayout: its inspections
	// are not run, since a functionary, not the owner, chose them.
	sublayoutSigner string
}

// maxCombinations bounds the search over alternative link sets when steps
// have several eligible candidates (re-runs of a step in CI).
const maxCombinations = 256

// Verify checks a layout and the evidence for its steps as the in-toto
// specification's verification workflow does
// (https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#51-verification-workflow):
// the layout's signatures by every layout key and its expiry; for each step,
// links signed by its authorised functionaries, counting each distinct key
// once toward the threshold; sublayouts recursively; expected commands
// (warnings only); every artifact rule; and inspections. It returns the
// report and a *NotVerifiedError when verification fails; any other error
// is a problem with the input itself.
func Verify(ctx context.Context, layout Evidence, links []Evidence, o Options) (*Report, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxSublayoutDepth == 0 {
		o.MaxSublayoutDepth = 8
	}
	if len(o.LayoutKeys) == 0 {
		return nil, errors.New("no layout key given: verification needs the layout owner's public key")
	}
	r, _ := verifyLayout(ctx, layout, links, o, 0)
	if r.loadErr != nil {
		return nil, r.loadErr
	}
	if !r.Verified {
		return r, &NotVerifiedError{Failures: r.Failures}
	}
	return r, nil
}

// verifyLayout verifies one layout level and also returns the chosen link
// of each step, for a super-layout's summary link.
func verifyLayout(ctx context.Context, layoutEv Evidence, links []Evidence, o Options, depth int) (*Report, map[string]*attest.CompactLink) {
	r := &Report{Layout: LayoutReport{Source: layoutEv.Source}}
	fail := func(f Failure) (*Report, map[string]*attest.CompactLink) {
		r.Failures = append(r.Failures, f)
		return r, nil
	}
	kind, err := layoutEv.Envelope.PayloadKind()
	if err != nil {
		return fail(Failure{Source: layoutEv.Source, Reason: err.Error()})
	}
	if kind != "layout" {
		return fail(Failure{Source: layoutEv.Source, Reason: fmt.Sprintf("is a %q document, not a layout", kind)})
	}
	var unsigned []Failure
	for _, k := range o.LayoutKeys {
		if err := layoutEv.Envelope.VerifyKey(k); err != nil {
			unsigned = append(unsigned, Failure{Source: layoutEv.Source, KeyID: k.KeyID, Reason: "layout: " + err.Error()})
			continue
		}
		r.Layout.Signers = append(r.Layout.Signers, k.KeyID)
	}
	if len(unsigned) > 0 {
		// Say who did sign it: a wrong --layout-key is the usual cause.
		r.Layout.Unverified = layoutref.ReadClaims(layoutEv.Envelope, r.Layout.Signers)
		for i := range unsigned {
			unsigned[i].Reason += "; " + r.Layout.Unverified.String()
		}
		r.Failures = append(r.Failures, unsigned...)
		return r, nil
	}
	// Only now, with the owner's signature checked, is the content trusted
	// enough to parse in full.
	layout, err := layoutEv.Envelope.ParsedLayout()
	if err != nil {
		return fail(Failure{Source: layoutEv.Source, Reason: "invalid layout: " + err.Error()})
	}
	r.Layout.Expires = layout.Expires
	r.Layout.Digest = PayloadDigest(layoutEv.Envelope)
	r.Layout.Version, _ = layout.Version()
	exp, _ := layout.ExpiresAt()
	if !o.Now.Before(exp) {
		return fail(Failure{Source: layoutEv.Source, Reason: fmt.Sprintf("layout expired at %s", layout.Expires)})
	}

	cands := gatherCandidates(ctx, layout, links, o, depth, r)
	if r.loadErr != nil {
		return r, nil
	}
	for _, s := range layout.Steps {
		sr := StepReport{Name: s.Name, Threshold: s.Threshold}
		for _, c := range cands[s.Name] {
			if c.reject != "" {
				sr.Rejected = append(sr.Rejected, LinkUse{Source: c.ev.Source, KeyIDs: c.keyIDs, Reason: c.reject})
			}
			if c.sub != nil && sr.Sublayout == nil {
				sr.Sublayout = c.sub
			}
		}
		r.Steps = append(r.Steps, sr)
	}
	groups := map[string][]*group{}
	for _, s := range layout.Steps {
		g := eligibleGroups(s, cands[s.Name])
		if len(g) == 0 {
			r.Failures = append(r.Failures, thresholdFailure(s, cands[s.Name]))
			continue
		}
		groups[s.Name] = g
	}
	if len(r.Failures) > 0 {
		// Rules compare steps with each other, so they are not evaluated
		// while a step has no acceptable links; say so for the others.
		for i := range r.Steps {
			sr := &r.Steps[i]
			if g := groups[sr.Name]; len(g) > 0 {
				for _, c := range g[0].members {
					sr.Used = append(sr.Used, LinkUse{Source: c.ev.Source, KeyIDs: c.keyIDs, sub: c.sub})
				}
				sr.NotEvaluated = "rules not evaluated: another step has no acceptable links"
			}
		}
		return r, nil
	}

	chosen, rules, failures, inspections := chooseAndApply(ctx, layout, groups, o, depth)
	r.Failures = append(r.Failures, failures...)
	r.Inspections = inspections
	for i := range r.Steps {
		sr := &r.Steps[i]
		g := chosen.groups[sr.Name]
		for _, c := range g.members {
			sr.Used = append(sr.Used, LinkUse{Source: c.ev.Source, KeyIDs: c.keyIDs, sub: c.sub})
		}
		for _, other := range groups[sr.Name] {
			if other == g {
				continue
			}
			for _, c := range other.members {
				sr.Rejected = append(sr.Rejected, LinkUse{Source: c.ev.Source, KeyIDs: c.keyIDs, Reason: "another set of links for this step was used; this one records other artifacts"})
			}
		}
		sr.Rules = rules[sr.Name]
		sr.Passed = true
		for _, f := range r.Failures {
			if f.Step == sr.Name {
				sr.Passed = false
			}
		}
		step := layout.Step(sr.Name)
		if link := chosen.links[sr.Name]; len(step.ExpectedCommand) > 0 && !sameCommand(step.ExpectedCommand, link.Command) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("step %q: command `%s` differs from the expected `%s`", sr.Name, visible(shellJoin(link.Command), false), visible(shellJoin(step.ExpectedCommand), false)))
		}
	}
	r.Verified = len(r.Failures) == 0
	return r, chosen.links
}

// PayloadDigest identifies a signed document by the sha256 of its signed
// payload, the same whichever envelope carries it (the layout digest a
// verification summary names).
func PayloadDigest(e *attest.Envelope) string {
	sum := sha256.Sum256(e.Payload)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func sameCommand(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
