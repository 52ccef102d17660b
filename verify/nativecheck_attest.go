package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
)

// maxRejectsListed bounds the attestations a failure lists as not
// counted, so that junk attached by anyone cannot bury the reason.
const maxRejectsListed = 3

// attestations evaluates the attestation part of a native check: the
// in-toto Statements of Options.Attestations whose predicate type is
// spec.Attestation, in a DSSE envelope whose signature verifies with the
// layout key spec.SignedBy names (by either keyid generation, Key.HasID),
// and with a subject naming Options.ImageDigest. Each is evaluated with
// its predicate as input and the whole statement as statement; all must
// hold, and there must be one. A statement counts only for the image its
// subject names and only signed by the named key: no replay onto another
// image, no statement by someone else.
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/README.md
func (x *inspections) attestations(ctx context.Context, in attest.Inspection, spec check.Spec, prog *check.Program) *outcome {
	out := &outcome{}
	fail := func(f Failure) *outcome {
		f.Inspection = in.Name
		out.fails = append(out.fails, f)
		return out
	}
	keys := x.layoutKeys(spec.SignedBy)
	if len(keys) == 0 {
		return fail(Failure{KeyID: spec.SignedBy, Reason: fmt.Sprintf("invalid layout: --signed-by %s names no key of the layout (every key a check names must be among the layout's keys)", spec.SignedBy)})
	}
	image := x.o.ImageDigest
	if image == "" {
		return fail(Failure{Reason: fmt.Sprintf("it checks attestations of type %q, which need the image: verify the image from its registry (referee verify IMAGE)", spec.Attestation)})
	}
	if spec.Image != "" && spec.Image != image && !strings.HasSuffix(spec.Image, "@"+image) {
		return fail(Failure{Reason: fmt.Sprintf("it checks the attestations of image %s, but the image verified is %s: an inspection checks the image being verified", spec.Image, image)})
	}
	checks, fails := evalAttestations(ctx, AttestationQuery{PredicateType: spec.Attestation, Keys: keys, SignedBy: spec.SignedBy, Image: image}, x.o.Attestations, x.readAttestation, prog)
	out.report.Checks = checks
	for _, f := range fails {
		fail(f)
	}
	return out
}

// AttestationQuery is what an attestation check counts: in-toto
// Statements of a predicate type, in a DSSE envelope whose signature
// verifies with one of Keys, with a subject naming Image.
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/README.md
type AttestationQuery struct {
	PredicateType string
	Keys          []*attest.Key
	// SignedBy names the key in messages; "" is the first key's keyid.
	SignedBy string
	// Image is the digest ("sha256:<hex>") a statement must be about.
	Image string
}

// CheckAttestations evaluates prog over the attestations of atts that q
// counts, as verification evaluates the attestation part of a native
// check (`referee check --attestation …`): each with its predicate as
// input and the whole statement as statement. It returns the result of
// each that counts and the failures: one for each that is false or cannot
// be evaluated, and one when none counts, naming (a few of) those of the
// predicate type that do not count and why. No failure means there is one
// and all hold. Each attestation is read cheapest first (see
// attestationRead), so that junk costs a scan of its bytes.
func CheckAttestations(ctx context.Context, q AttestationQuery, atts []Evidence, prog *check.Program) ([]CheckResult, []Failure) {
	reads := make([]*attestationRead, len(atts))
	read := func(i int) *attestationRead {
		if reads[i] == nil {
			reads[i] = newAttestationRead(atts[i])
		}
		return reads[i]
	}
	return evalAttestations(ctx, q, atts, read, prog)
}

func evalAttestations(ctx context.Context, q AttestationQuery, atts []Evidence, read func(int) *attestationRead, prog *check.Program) ([]CheckResult, []Failure) {
	if q.SignedBy == "" && len(q.Keys) > 0 {
		q.SignedBy = q.Keys[0].KeyID
	}
	var checks []CheckResult
	var fails []Failure
	var rejects []string
	found := 0
	for i, ev := range atts {
		counts, why := read(i).qualify(q)
		if !counts && why == "" {
			continue // of another predicate type
		}
		if why != "" {
			rejects = append(rejects, fmt.Sprintf("%s %s", ev.Source, why))
			continue
		}
		found++
		res, err := read(i).eval(ctx, prog)
		if err != nil {
			checks = append(checks, CheckResult{Attestation: ev.Source, PredicateType: q.PredicateType, Reason: err.Error()})
			fails = append(fails, Failure{Source: ev.Source, Reason: err.Error()})
			continue
		}
		checks = append(checks, CheckResult{Attestation: ev.Source, PredicateType: q.PredicateType, Passed: res.Pass, Reason: res.Reason})
		if !res.Pass {
			fails = append(fails, Failure{Source: ev.Source, Reason: res.Reason})
		}
	}
	if found == 0 {
		reason := fmt.Sprintf("no attestation of type %q signed by key %s names image %s", q.PredicateType, short(q.SignedBy), q.Image)
		if len(rejects) > 0 {
			sort.Strings(rejects)
			listed := rejects[:min(len(rejects), maxRejectsListed)]
			reason += fmt.Sprintf("; %d of this type not counted: %s", len(rejects), strings.Join(listed, "; "))
			if n := len(rejects) - len(listed); n > 0 {
				reason += fmt.Sprintf("; and %d more", n)
			}
		}
		fails = append(fails, Failure{KeyID: q.SignedBy, Reason: reason})
	}
	return checks, fails
}

// layoutKeys returns the keys of x's layout that id names.
func (x *inspections) layoutKeys(id string) []*attest.Key { return keysNamed(x.layout, id) }

// keysNamed returns the keys of layout l that id names, by the keyid the
// layout lists them under or by either keyid generation.
func keysNamed(l *attest.Layout, id string) []*attest.Key {
	var keys []*attest.Key
	for _, listed := range sortedKeys(l.Keys) {
		if k := l.Keys[listed]; k != nil && (listed == id || k.HasID(id)) {
			keys = append(keys, k)
		}
	}
	return keys
}

// subjects names a statement's subjects' sha256 digests, briefly.
func subjects(st *attest.Statement) string {
	var out []string
	for _, s := range st.Subject {
		for alg, h := range s.Digest {
			if strings.EqualFold(alg, "sha256") {
				out = append(out, "sha256:"+shortHex(h))
			}
		}
	}
	if len(out) == 0 {
		return "no sha256 subject"
	}
	if len(out) > 2 {
		out = append(out[:2], "…")
	}
	return strings.Join(out, ", ")
}

// namesKey reports whether a signature of env names k by one of its keyids.
func namesKey(env *attest.Envelope, k *attest.Key) bool {
	for _, id := range env.SignerKeyIDs() {
		if id != "" && k.HasID(id) {
			return true
		}
	}
	return false
}
