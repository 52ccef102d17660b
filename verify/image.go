package verify

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
)

// ImageOptions controls Image.
type ImageOptions struct {
	Options
	// Layout is the layout to use (from --layout); nil chooses the current
	// one among the layouts attached to the image (layoutref.Select).
	Layout *layoutref.Candidate
	// Discover bounds the walk of the referrer graph.
	Discover oci.DiscoverOptions
	// MaxBlobBytes refuses larger envelope blobs; zero means the default.
	MaxBlobBytes int64
	// MinLayoutVersion refuses attached layouts of a lower version.
	MinLayoutVersion int
}

// Image verifies an image from its store alone: it walks the image's
// referrer graph (reading every referrer's own manifest; sublayouts'
// links hang under the sublayout), picks the layout, and evaluates it with
// the engine on the evidence found, requiring that the evidence is bound to
// this image's digest by signed content (Options.ImageDigest). It returns
// the report and a *NotVerifiedError when verification fails; any other
// error is a problem reaching or reading the store. image must be the
// descriptor the reference was resolved to, once.
func Image(ctx context.Context, s oci.Store, image ocispec.Descriptor, o ImageOptions) (*Report, error) {
	w, err := imageWalk(ctx, s, image, o, false)
	if w == nil {
		return nil, err
	}
	return w.Report, err
}

// Walked is what ImageWalk verified, read and used.
type Walked struct {
	Report *Report
	// Graph is the referrer graph as verification listed and read it:
	// the image's referrers and, below each sublayout, its referrers;
	// the referrers of anything else were not listed.
	Graph *oci.Node
	// Used holds, when verification passed, the digests of the
	// referrers whose documents it used: the layout (the one chosen or,
	// with ImageOptions.Layout, the first attached referrer holding the
	// same signed layout), the links counted for each step, the
	// sublayouts counted and, at every depth, the links counted for
	// their steps. Rejected, stale and unknown-step documents are not
	// in it.
	Used map[string]bool
	// Attestations holds, when verification passed, the attestations that
	// its passing checks counted, in every form: the referrers among them
	// are also in Used; cosign's legacy ones live in the image's
	// sha256-<hex>.att tag, which promote copies itself.
	Attestations []oci.Attestation
	// Layout is, when verification passed, the layout it verified.
	Layout *attest.Layout
}

// ImageWalk is Image, also returning the graph it walked and the
// referrers whose documents it used (promote copies exactly those). On a
// *NotVerifiedError the Walked is returned without Used.
func ImageWalk(ctx context.Context, s oci.Store, image ocispec.Descriptor, o ImageOptions) (*Walked, error) {
	return imageWalk(ctx, s, image, o, true)
}

// imageWalk first reads what the registry's referrers API lists straight
// from the envelopes it names (oci.DiscoverOptions.ListedEnvelopes: half
// the requests, the manifests not read);
// where that does not verify, it walks again reading every manifest, so
// that the verdict, and every report of what is wrong, is that of the
// full walk: a listing that names a wrong envelope cannot make a good
// image fail.
func imageWalk(ctx context.Context, s oci.Store, image ocispec.Descriptor, o ImageOptions, wantUsed bool) (*Walked, error) {
	listed := 0
	w, err := walk(ctx, s, image, o, wantUsed, &listed)
	if listed == 0 || !IsNotVerified(err) {
		return w, err
	}
	return walk(ctx, s, image, o, wantUsed, nil)
}

// walk is one walk of imageWalk: with listed set, reading envelopes from
// the listing where it can, and counting in listed the referrers read so.
func walk(ctx context.Context, s oci.Store, image ocispec.Descriptor, o ImageOptions, wantUsed bool, listed *int) (*Walked, error) {
	d := o.Discover
	d.ListedEnvelopes = listed != nil
	if d.Follow == nil {
		// Only a sublayout (a layout attached for a step) has referrers
		// that matter; not listing the others saves a round trip.
		d.Follow = func(n *oci.Node) bool {
			return n.Annotations[oci.AnnotationKind] == "layout" && n.Annotations[oci.AnnotationStep] != ""
		}
	}
	// Envelopes are fetched as soon as their referrer's manifest is read:
	// on a distant registry, waiting for the whole graph first costs the
	// slowest manifest fetch again.
	// Large envelopes are kept only if a layout key, or a key a kept
	// layout names, signed them: checked from their signatures as they
	// arrive, so that hostile evidence cannot fill memory.
	if d.Trust == nil {
		d.Trust = &oci.Trust{Keys: o.LayoutKeys}
		if o.Layout != nil {
			d.Trust.Layouts = []*attest.Envelope{o.Layout.Envelope}
		}
	}
	graph, bundle, err := oci.DiscoverAndGather(ctx, s, image, d, o.MaxBlobBytes)
	if err != nil {
		return nil, err
	}
	defer bundle.Release()
	if listed != nil {
		*listed = bundle.Listed
	}
	w := &Walked{Graph: graph}
	var warnings []string
	var problems func(n *oci.Node)
	problems = func(n *oci.Node) {
		for _, c := range n.Referrers {
			if c.Problem != "" {
				warnings = append(warnings, fmt.Sprintf("referrer %s ignored: %s", c.Digest, c.Problem))
			}
			problems(c)
		}
	}
	problems(graph)
	for _, sk := range bundle.Skipped {
		warnings = append(warnings, fmt.Sprintf("referrer %s ignored: %s", sk.Digest, sk.Reason))
	}

	layout := o.Layout
	var sel *layoutref.Selection
	if layout == nil {
		cands := make([]layoutref.Candidate, len(bundle.Layouts))
		for i, l := range bundle.Layouts {
			cands[i] = layoutref.Candidate{Source: "referrer " + l.Referrer.Digest, Envelope: l.Envelope}
		}
		sel, err = layoutref.Select(cands, o.LayoutKeys, o.MinLayoutVersion)
		if err != nil {
			r := &Report{Image: image.Digest.String(), Warnings: warnings, Failures: []Failure{{Reason: err.Error()}}}
			if sel != nil {
				r.Layout.NotUsed = sel.Rejected
			}
			w.Report = r
			return w, &NotVerifiedError{Failures: r.Failures}
		}
		layout = &sel.Chosen
	}
	eo := o.Options
	eo.ImageDigest = image.Digest.String()
	// Artifacts attached to the image feed its inspections (what a
	// verified link records, checked by hash); attestations are read only
	// for a layout whose checks name one.
	artifacts := oci.ArtifactsOf(s, graph, oci.ArtifactSetOptions{})
	if eo.Artifacts == nil {
		eo.Artifacts = artifacts
	}
	var atts []oci.Attestation
	// The layout as it arrived, read here (its signature is the
	// engine's to check) if it may name attestations, for which to read,
	// and, once verified, for ImageWalk's caller (Walked.Layout): a batch
	// of images verified against one layout does not read it once more
	// for each.
	var parsed *attest.Layout
	if mayNameAttestations(layout.Envelope.Payload) {
		parsed, _ = layout.Envelope.ParsedLayout()
	}
	if keys, need := attestationKeys(parsed); eo.Attestations == nil && need {
		// Only statements signed by a key a check names are read: junk
		// from whoever can push costs a signature check, not a parse.
		read, err := oci.ReadAttestations(ctx, s, image, oci.AttestationOptions{MaxManifestBytes: d.MaxManifestBytes, MaxBlobBytes: o.MaxBlobBytes, Keys: keys})
		if err != nil {
			return nil, fmt.Errorf("reading the attestations of %s: %w", image.Digest, err)
		}
		atts = read.Found
		eo.Attestations = AttestationEvidence(atts)
		for i, sk := range read.Skipped {
			if i == maxIgnoredListed {
				warnings = append(warnings, fmt.Sprintf("and %d more attestations not read", len(read.Skipped)-i))
				break
			}
			warnings = append(warnings, fmt.Sprintf("attestation %s not read: %s", sk.Digest, sk.Reason))
		}
	}
	r, verr := Verify(ctx, Evidence{Source: layout.Source, Envelope: layout.Envelope}, evidence(bundle.Links), eo)
	if r == nil {
		return nil, verr
	}
	r.Image = image.Digest.String()
	r.Warnings = append(warnings, r.Warnings...)
	if sel != nil {
		r.Layout.NotUsed = sel.Rejected
	}
	w.Report = r
	if verr != nil || !wantUsed {
		return w, verr
	}
	if parsed == nil {
		parsed, _ = layout.Envelope.ParsedLayout()
	}
	w.Layout = parsed
	w.Used = map[string]bool{}
	for _, l := range bundle.Layouts {
		if (sel != nil && l.Envelope == sel.Chosen.Envelope) || (sel == nil && PayloadDigest(l.Envelope) == r.Layout.Digest) {
			w.Used[l.Referrer.Digest] = true
			break
		}
	}
	usedLinks(r, bundle.Links, w.Used)
	for _, a := range artifacts.Used() {
		w.Used[a.Digest.String()] = true
	}
	w.Attestations = usedAttestations(r, atts, w.Used)
	return w, nil
}

// mayNameAttestations reports whether a layout's payload may hold a
// native check over attestations (`referee check --attestation …`): the
// flag's name is in it, unless JSON spells it with \u escapes.
func mayNameAttestations(payload []byte) bool {
	return bytes.Contains(payload, []byte("attestation")) || bytes.Contains(payload, []byte(`\u`))
}

// attestationKeys reports whether the layout l (nil: it does not parse,
// which the engine reports) has a native check over attestations, the
// only use of them, and returns the layout keys those checks name.
func attestationKeys(l *attest.Layout) ([]*attest.Key, bool) {
	if l == nil {
		return nil, false
	}
	var keys []*attest.Key
	need := false
	for _, in := range l.Inspect {
		spec, ok, err := check.ParseCommand(in.Run)
		if !ok || err != nil || spec.Attestation == "" {
			continue
		}
		need = true
		for _, k := range keysNamed(l, spec.SignedBy) {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	if need && len(keys) == 0 {
		// No check names a key of the layout: none can pass, and the
		// engine says so; nothing need be read.
		return nil, false
	}
	return keys, need
}

// AttestationEvidence turns attestations found in a store into engine
// evidence (Options.Attestations, CheckAttestations); an unsigned one
// (BuildKit) is an envelope without signatures, so that the report can
// say it is not signed.
func AttestationEvidence(atts []oci.Attestation) []Evidence {
	out := make([]Evidence, 0, len(atts))
	for _, a := range atts {
		env := a.Envelope
		if env == nil {
			env = attest.NewEnvelope(attest.FormDSSE, a.Statement)
		}
		out = append(out, Evidence{Source: attestationSource(a), Envelope: env})
	}
	return out
}

func attestationSource(a oci.Attestation) string { return a.Source + " (" + a.Form + ")" }

// usedAttestations returns the attestations that passing checks counted
// and adds to used those that are referrers (referee's and cosign's
// bundles; cosign's legacy .att tag and BuildKit's attestation manifests
// are not).
func usedAttestations(r *Report, atts []oci.Attestation, used map[string]bool) []oci.Attestation {
	bySource := map[string]oci.Attestation{}
	for _, a := range atts {
		bySource[attestationSource(a)] = a
	}
	var counted []oci.Attestation
	seen := map[string]bool{}
	for _, in := range r.Inspections {
		for _, c := range in.Checks {
			a, ok := bySource[c.Attestation]
			if !ok || !c.Passed || seen[c.Attestation] {
				continue
			}
			seen[c.Attestation] = true
			counted = append(counted, a)
			if a.Form == oci.AttestationFormReferee || a.Form == oci.AttestationFormCosignBundle {
				used[a.Referrer.Digest.String()] = true
			}
		}
	}
	return counted
}

// usedLinks adds to used the referrers of docs (the evidence offered to
// the layout of r) whose documents r counted for a step, and, for each
// sublayout counted, those its own verification counted.
func usedLinks(r *Report, docs []*oci.Document, used map[string]bool) {
	bySource := map[string][]*oci.Document{}
	for _, d := range docs {
		bySource[source(d)] = append(bySource[source(d)], d)
	}
	for _, sr := range r.Steps {
		for _, u := range sr.Used {
			for _, d := range bySource[u.Source] {
				used[d.Referrer.Digest] = true
				if d.Kind == "layout" && u.sub != nil {
					usedLinks(u.sub, d.Sub, used)
				}
			}
		}
	}
}

// evidence turns documents found in a store into engine evidence.
func evidence(docs []*oci.Document) []Evidence {
	out := make([]Evidence, 0, len(docs))
	for _, d := range docs {
		ev := Evidence{
			Source:   source(d),
			Envelope: d.Envelope,
			StepHint: d.Step,
			Sub:      evidence(d.Sub),
		}
		if l, signed, ok := d.ScannedLink(); ok {
			ev.link, ev.signed = l.Clone(), signed // examine shares its paths
		}
		out = append(out, ev)
	}
	return out
}

// source names a document in reports: its referrer and file name.
func source(d *oci.Document) string {
	return fmt.Sprintf("referrer %s (%s)", d.Referrer.Digest, d.FileName)
}
