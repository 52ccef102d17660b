// Package verify is referee's in-toto verification engine. It works on
// signed documents in memory: where they came from (a directory, a
// registry) is the caller's business, so the same engine serves local link
// directories and OCI referrers.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	if !r.Verified {
		return r, &NotVerifiedError{Failures: r.Failures}
	}
	return r, nil
}

// verifyLayout verifies one layout level and also returns the chosen link
// of each step, for a super-layout's summary link.
func verifyLayout(ctx context.Context, layoutEv Evidence, links []Evidence, o Options, depth int) (*Report, map[string]*attest.Link) {
	r := &Report{Layout: LayoutReport{Source: layoutEv.Source}}
	fail := func(f Failure) (*Report, map[string]*attest.Link) {
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
	layout, err := attest.ParseLayout(layoutEv.Envelope.Payload)
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

// candidate is one piece of evidence offered for a step, with the distinct
// authorised keys whose signatures on it verify.
type candidate struct {
	ev     Evidence
	link   *attest.Link
	keyIDs []string
	// keyFPs identify the signers by key material, so one key listed
	// under two keyids still counts once.
	keyFPs []string
	reject string
	sub    *Report
}

// gatherCandidates sorts the evidence by step, checks signatures, verifies
// sublayouts, and records why evidence cannot count. Evidence for a step
// the layout does not name is not used and does not fail verification, as
// in both reference implementations (which never read it): a link or
// sublayout can only count toward a step of the layout, and anyone who can
// attach a referrer could otherwise make every image fail with a
// self-signed link of a made-up step. It is listed in r.Warnings as not
// used, with why (see ignoredWarnings).
func gatherCandidates(ctx context.Context, layout *attest.Layout, links []Evidence, o Options, depth int, r *Report) map[string][]*candidate {
	// Parsing and signature checks are independent per link: spread them
	// over the cores, then assemble in input order.
	results := make([]examined, len(links))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, ev := range links {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = examine(layout, ev)
		}()
	}
	wg.Wait()
	out := map[string][]*candidate{}
	var ignored []examined
	for _, e := range results {
		switch {
		case e.failure != nil:
			r.Failures = append(r.Failures, *e.failure)
			continue
		case e.ignored != "":
			ignored = append(ignored, e)
			continue
		}
		if e.c.reject == "" && e.isSub {
			e.c.verifySublayout(ctx, layout, layout.Step(e.name), o, depth)
		}
		out[e.name] = append(out[e.name], e.c)
	}
	r.Warnings = append(r.Warnings, ignoredWarnings(ignored)...)
	return out
}

// examined is what examine found about one piece of evidence: the step it
// is a candidate for, or the failure that makes it unusable, or why it is
// for no step of the layout and so not used (ignored).
type examined struct {
	c       *candidate
	name    string
	isSub   bool
	failure *Failure
	ignored string
}

// maxIgnoredListed bounds how many pieces of evidence for steps the layout
// does not name are listed one by one; the rest are counted on one line,
// so that junk attached by anyone cannot bury the report.
const maxIgnoredListed = 20

// ignoredWarnings lists evidence for no step of the layout, as not used.
func ignoredWarnings(ignored []examined) []string {
	var out []string
	for i, e := range ignored {
		if i == maxIgnoredListed {
			out = append(out, fmt.Sprintf("and %d more links or sublayouts for steps the layout does not name, not used", len(ignored)-i))
			break
		}
		what := "link"
		if e.isSub {
			what = "sublayout"
		}
		if e.name == "" {
			out = append(out, fmt.Sprintf("%s %s not used: %s", what, e.c.ev.Source, e.ignored))
			continue
		}
		out = append(out, fmt.Sprintf("%s %s of step %q not used: %s", what, e.c.ev.Source, e.name, e.ignored))
	}
	return out
}

// examine parses one piece of evidence, finds its step and checks its
// signatures. A failure means the evidence is unusable for any step;
// evidence for a step the layout does not name is ignored (its signatures
// are not even checked), unless its file name says a step of the layout:
// then it is a rejected candidate of that step, so that the report says,
// where the reader looks for it, why it did not count.
func examine(layout *attest.Layout, ev Evidence) examined {
	c := &candidate{ev: ev}
	kind, err := ev.Envelope.PayloadKind()
	if err != nil {
		return examined{failure: &Failure{Source: ev.Source, Reason: err.Error()}}
	}
	var name string
	isSub := false
	switch kind {
	case "link":
		if c.link, err = attest.ParseLink(ev.Envelope.Payload); err != nil {
			return examined{failure: &Failure{Source: ev.Source, Reason: "invalid link: " + err.Error()}}
		}
		name = c.link.Name
	case "layout":
		name, isSub = ev.StepHint, true
	default:
		return examined{failure: &Failure{Source: ev.Source, Reason: fmt.Sprintf("is a %q document, neither a link nor a sublayout", kind)}}
	}
	step := layout.Step(name)
	if step == nil {
		if !isSub && ev.StepHint != name && layout.Step(ev.StepHint) != nil {
			// The file name is unsigned: the signed name decides, and a
			// link of one step never counts for another.
			c.reject = fmt.Sprintf("signed as a link of step %q, which the layout does not have, not of %q (a link counts only for the step its signed content names, whatever its file name says)", name, ev.StepHint)
			return examined{c: c, name: ev.StepHint}
		}
		return examined{c: c, name: name, isSub: isSub, ignored: noStep(layout, name)}
	}
	c.keyIDs, c.keyFPs, c.reject = signers(ev.Envelope, layout, step)
	return examined{c: c, name: name, isSub: isSub}
}

// noStep says why evidence of step name is for no step of layout.
func noStep(layout *attest.Layout, name string) string {
	if name == "" {
		return "it names no step (in-toto takes a sublayout's step from its file name, STEP.KEYID8.link)"
	}
	for _, in := range layout.Inspect {
		if in.Name == name {
			return fmt.Sprintf("no step of this name in the layout (%q is an inspection, whose link the verifier makes by running it)", name)
		}
	}
	return "no step of this name in the layout"
}

// verifySublayout verifies a sublayout with the functionary's key as its
// layout key, and stands in for it the summary link in-toto defines: the
// first step's materials and the last step's products, byproducts and
// command.
func (c *candidate) verifySublayout(ctx context.Context, layout *attest.Layout, step *attest.Step, o Options, depth int) {
	if depth+1 > o.MaxSublayoutDepth {
		c.reject = fmt.Sprintf("sublayouts nested deeper than %d", o.MaxSublayoutDepth)
		return
	}
	so := o
	so.LayoutKeys = []*attest.Key{layout.Keys[c.keyIDs[0]]}
	so.Inspector, so.sublayoutSigner = nil, c.keyIDs[0]
	so.Artifacts, so.Attestations = nil, nil
	sub, chosen := verifyLayout(ctx, c.ev, c.ev.Sub, so, depth+1)
	c.sub = sub
	if !sub.Verified {
		c.reject = fmt.Sprintf("sublayout does not verify: %s", sub.Failures[0].Error())
		return
	}
	subLayout, _ := attest.ParseLayout(c.ev.Envelope.Payload)
	c.link = &attest.Link{Type: "link", Name: step.Name, Materials: map[string]attest.HashObj{}, Products: map[string]attest.HashObj{}}
	if n := len(subLayout.Steps); n > 0 {
		first, last := chosen[subLayout.Steps[0].Name], chosen[subLayout.Steps[n-1].Name]
		c.link.Materials, c.link.Products = first.Materials, last.Products
		c.link.Byproducts, c.link.Command = last.Byproducts, last.Command
	}
}

// group is a set of candidate links of one step that record the same
// artifacts; together they count their distinct signers.
type group struct {
	members []*candidate
	keys    map[string]bool
	link    *attest.Link
}

// eligibleGroups groups the accepted candidates of a step by the artifacts
// they record and keeps the groups whose distinct signers reach the
// threshold, largest first.
func eligibleGroups(s attest.Step, cands []*candidate) []*group {
	byArtifacts := map[string]*group{}
	var order []string
	for _, c := range cands {
		if c.reject != "" {
			continue
		}
		fp := artifactFingerprint(c.link)
		g := byArtifacts[fp]
		if g == nil {
			g = &group{keys: map[string]bool{}, link: c.link}
			byArtifacts[fp] = g
			order = append(order, fp)
		}
		g.members = append(g.members, c)
		for _, k := range c.keyFPs {
			g.keys[k] = true
		}
	}
	var out []*group
	for _, fp := range order {
		if g := byArtifacts[fp]; len(g.keys) >= s.Threshold {
			out = append(out, g)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].keys) > len(out[j].keys) })
	return out
}

func artifactFingerprint(l *attest.Link) string {
	h := sha256.New()
	write := func(s string) {
		// Length-prefixed, so no two different sets encode the same.
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, set := range []map[string]attest.HashObj{l.Materials, l.Products} {
		write(strconv.Itoa(len(set)))
		for _, p := range sortedKeys(set) {
			write(p)
			hs := set[p]
			write(strconv.Itoa(len(hs)))
			for _, a := range sortedKeys(hs) {
				write(a)
				write(hs[a])
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func thresholdFailure(s attest.Step, cands []*candidate) Failure {
	accepted := map[string]bool{}
	for _, c := range cands {
		if c.reject == "" {
			for _, k := range c.keyFPs {
				accepted[k] = true
			}
		}
	}
	reason := fmt.Sprintf("needs links signed by %d distinct authorised functionaries recording the same artifacts; found %d", s.Threshold, len(accepted))
	if len(cands) == 0 {
		reason = fmt.Sprintf("no link for this step (needs %d, signed by any of %s)", s.Threshold, shortList(s.PubKeys))
	} else {
		for _, c := range cands {
			if c.reject != "" {
				return Failure{Step: s.Name, Source: c.ev.Source, Reason: reason + "; " + c.ev.Source + " was not counted: " + c.reject}
			}
		}
	}
	return Failure{Step: s.Name, Reason: reason}
}

// choice is one selection of a link group per step.
type choice struct {
	groups map[string]*group
	links  map[string]*attest.Link
}

// chooseAndApply tries the combinations of eligible link groups (largest
// first, bounded by maxCombinations) and returns the first under which
// every rule holds, or else the first combination with its failures.
func chooseAndApply(ctx context.Context, layout *attest.Layout, groups map[string][]*group, o Options, depth int) (choice, map[string][]RuleResult, []Failure, []StepReport) {
	idx := make([]int, len(layout.Steps))
	ins := newInspections(layout, o)
	var first struct {
		c           choice
		rules       map[string][]RuleResult
		fails       []Failure
		inspections []StepReport
	}
	for n := 0; n < maxCombinations; n++ {
		c := choice{groups: map[string]*group{}, links: map[string]*attest.Link{}}
		for i, s := range layout.Steps {
			g := groups[s.Name][idx[i]]
			c.groups[s.Name], c.links[s.Name] = g, g.link
		}
		// Inspections see the artifacts of these links; each runs once
		// for each distinct set of them (a command on the verifier's
		// disk, given none, once).
		inspections, inspected, inspectFailures := ins.run(ctx, c.links)
		for name, l := range inspected {
			c.links[name] = l
		}
		rules, fails := applyAll(layout, c.links)
		if depth == 0 {
			fails = append(fails, checkBinding(layout, c.links, o.ImageDigest)...)
		}
		for _, sr := range inspections {
			rules[sr.Name] = nil
		}
		fails = append(inspectFailures, fails...)
		if n == 0 {
			first.c, first.rules, first.fails, first.inspections = c, rules, fails, inspections
		}
		if len(fails) == 0 {
			attachInspectionRules(inspections, rules)
			return c, rules, nil, inspections
		}
		if !advance(idx, layout, groups) {
			break
		}
	}
	attachInspectionRules(first.inspections, first.rules)
	return first.c, first.rules, first.fails, first.inspections
}

// checkBinding requires, when an image digest is given, that the layout
// binds its evidence to an image and that the binding steps' links record
// exactly this image.
func checkBinding(layout *attest.Layout, links map[string]*attest.Link, image string) []Failure {
	if image == "" {
		return nil
	}
	steps := layout.BindingSteps()
	if len(steps) == 0 {
		return []Failure{{Artifact: attest.ImageArtifact, Reason: fmt.Sprintf("the layout binds no step to the image (no step's expected_products names %q), so links copied from another image would verify this one; refusing", attest.ImageArtifact)}}
	}
	alg, hexDigest, ok := strings.Cut(image, ":")
	var fails []Failure
	for _, name := range steps {
		got, recorded := links[name].Products[attest.ImageArtifact]
		switch {
		case !ok || alg != "sha256":
			fails = append(fails, Failure{Step: name, Artifact: attest.ImageArtifact, Reason: fmt.Sprintf("image digest %q is not a sha256 digest", image)})
		case !recorded:
			fails = append(fails, Failure{Step: name, Artifact: attest.ImageArtifact, Reason: fmt.Sprintf("the step's link records no image, so it is not bound to %s", image)})
		case !sameHashes(got, attest.HashObj{"sha256": hexDigest}):
			fails = append(fails, Failure{Step: name, Artifact: attest.ImageArtifact, Reason: fmt.Sprintf("the step's link is about image %s, not %s (evidence copied from another image?)", hashSummary(got), image)})
		}
	}
	return fails
}

// advance moves idx to the next combination, odometer-style.
func advance(idx []int, layout *attest.Layout, groups map[string][]*group) bool {
	for i := range idx {
		idx[i]++
		if idx[i] < len(groups[layout.Steps[i].Name]) {
			return true
		}
		idx[i] = 0
	}
	return false
}

// applyAll evaluates every step's and inspection's rules against links.
func applyAll(layout *attest.Layout, links map[string]*attest.Link) (map[string][]RuleResult, []Failure) {
	rules := map[string][]RuleResult{}
	var fails []Failure
	env := &ruleEnv{chosen: links, globs: map[string]glob{}}
	check := func(key, name string, link *attest.Link, materials, products [][]string) {
		env.link = link
		for _, set := range []struct {
			name  string
			rules [][]string
		}{{"materials", materials}, {"products", products}} {
			rr, f := env.applyRules(name, set.name, set.rules)
			rules[key] = append(rules[key], rr...)
			if f != nil {
				if key != name {
					f.Inspection, f.Step = f.Step, ""
				}
				fails = append(fails, *f)
			}
		}
	}
	for _, s := range layout.Steps {
		check(s.Name, s.Name, links[s.Name], s.ExpectedMaterials, s.ExpectedProducts)
	}
	for _, in := range layout.Inspect {
		if l := links[in.Name]; l != nil {
			check("inspection:"+in.Name, in.Name, l, in.ExpectedMaterials, in.ExpectedProducts)
		}
	}
	return rules, fails
}
