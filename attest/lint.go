package attest

import (
	"fmt"
	"sort"
	"time"
)

// Lint rule ids: stable names of what Lint looks for, for Finding.Rule.
const (
	// LintMatchThenAllow: a MATCH is followed, in the same rule list, by
	// an ALLOW (or CREATE, DELETE, MODIFY) that accepts what the MATCH
	// leaves when it fails. A failed MATCH consumes nothing, so the later
	// rule accepts the tampered artifact: in-toto Python 1.3 (and referee,
	// which follows the specification) accept a tampered app.tar under
	// "MATCH app.tar WITH PRODUCTS FROM package" then "ALLOW *".
	// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#433-artifact-rules
	LintMatchThenAllow = "match-then-allow"
	// LintMatchNotEnforced: nothing after a MATCH disallows what it
	// leaves, and in-toto allows whatever no rule consumes, so an
	// artifact that does not match passes all the same.
	LintMatchNotEnforced = "match-not-enforced"
	// LintUnconsumedProducts: products of a step that no other step or
	// inspection MATCHes (WITH PRODUCTS FROM that step): nothing compares
	// them with what is used. For the last step this is the references'
	// own caveat: with no inspection, verification never looks at the
	// files, and a tampered final product passes.
	LintUnconsumedProducts = "unconsumed-products"
	// LintGlobDiffers: a pattern that the specification's fnmatch
	// (Python, referee) and Go's matcher (in-toto-golang) read
	// differently: a backslash, an unclosed '[', a set starting with ']'
	// or '^', and MATCH … IN prefix, which in-toto-golang also applies to
	// paths outside the prefix. See docs/deviations.md, "Patterns".
	LintGlobDiffers = "glob-differs"
	// LintLongExpiry: the layout expires more than a year after
	// LintOptions.Now; a leaked functionary key stays good until then.
	LintLongExpiry = "expiry-over-a-year"
	// LintThreshold: a step's threshold is above its number of
	// functionaries with distinct keys, so no set of links can meet it.
	// Layout validation refuses such a layout; Lint reports it for a
	// spec, and for a Layout built in memory.
	LintThreshold = "threshold-above-keys"
	// LintUnusedKey: a key of the layout that no step lists and no
	// native check names (--signed-by).
	LintUnusedKey = "unused-key"
	// LintImageNotBound: no step's expected_products names ImageArtifact,
	// so verification from a registry refuses the layout (Layout.
	// BindingSteps is what verification reads). Not reported for a
	// sublayout, which verification does not ask to bind the image.
	LintImageNotBound = "image-not-bound"
	// LintSublayoutInspection: an inspection in a layout used as a
	// sublayout. Verification never runs it (a functionary, not the
	// layout owner, signs a sublayout) and so fails the sublayout.
	LintSublayoutInspection = "sublayout-inspection"
	// LintCommandInspection: an inspection whose run is a command, not
	// "referee check …": verification from a registry (verify, promote)
	// runs it only with --run-inspections, and otherwise refuses.
	LintCommandInspection = "command-inspection"
)

// lintRuleOrder orders findings of one step or inspection.
var lintRuleOrder = map[string]int{
	LintMatchThenAllow: 1, LintMatchNotEnforced: 2, LintUnconsumedProducts: 3, LintGlobDiffers: 4,
	LintLongExpiry: 5, LintThreshold: 6, LintUnusedKey: 7, LintImageNotBound: 8,
	LintSublayoutInspection: 9, LintCommandInspection: 10,
}

// Finding severities. Both mean the layout deserves a second look;
// SeverityError marks what lets tampering pass or makes verification
// always fail, SeverityWarning what is a choice the owner may have made
// knowingly (a command inspection, a long expiry).
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Finding is one thing Lint found wrong or risky in a layout.
type Finding struct {
	// Rule is the stable id of the lint rule (LintMatchThenAllow, …).
	Rule string `json:"rule"`
	// Severity is SeverityError or SeverityWarning.
	Severity string `json:"severity"`
	// Step is the step or inspection the finding is about; "" for the
	// layout as a whole (expiry, keys, image binding).
	Step string `json:"step,omitempty"`
	// Message says what is wrong, on one line.
	Message string `json:"message"`
	// Fix says, on one line, what to write instead.
	Fix string `json:"fix"`
}

// String writes the finding on one line: the rule, its severity, what is
// wrong (naming the step or inspection) and the fix.
func (f Finding) String() string {
	return fmt.Sprintf("%s (%s): %s; fix: %s", f.Rule, f.Severity, f.Message, f.Fix)
}

// LintOptions controls Lint.
type LintOptions struct {
	// Now is the time expiry is measured from; zero means the current
	// time.
	Now time.Time
	// Sublayout says the layout is signed by a functionary as a step's
	// sublayout: its inspections are then reported (never run), its last
	// step's products are left to the parent layout, and it need not bind
	// the image.
	Sublayout bool
}

// Lint reports what in a layout lets tampering pass, cannot verify, or
// reads differently in the in-toto references, with the fix for each:
//
//   - match-then-allow, match-not-enforced: a MATCH whose failure a later
//     ALLOW, or the end of the rule list, lets pass;
//   - unconsumed-products: products no other step or inspection MATCHes,
//     the last step's with no inspection;
//   - glob-differs: patterns Python's fnmatch and in-toto-golang read
//     differently, and MATCH … IN prefix;
//   - expiry-over-a-year, threshold-above-keys, unused-key;
//   - image-not-bound: no step binds the image, which registry
//     verification refuses;
//   - sublayout-inspection (with LintOptions.Sublayout), command-inspection.
//
// The Lint* constants say more of each. The layout need not have been
// validated (rules that do not parse are left to Validate). Findings come
// in a fixed order: the layout's own first, then each step and inspection
// in layout order, by rule. See
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#43-file-formats-layout.
func Lint(l *Layout, o LintOptions) []Finding {
	return lint(l, o, nil)
}

// lint is Lint, naming keys by the functionaries in names (keyid → the
// spec's functionary names) when there are any.
func lint(l *Layout, o LintOptions, names map[string][]string) []Finding {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var out []Finding
	out = append(out, lintMatches(l)...)
	out = append(out, lintProducts(l, o)...)
	out = append(out, lintGlobs(l)...)
	out = append(out, lintExpiry(l, o.Now)...)
	out = append(out, lintThresholds(l)...)
	out = append(out, lintKeys(l, names)...)
	out = append(out, lintInspections(l, o)...)
	if !o.Sublayout && len(l.BindingSteps()) == 0 {
		out = append(out, Finding{Rule: LintImageNotBound, Severity: SeverityError,
			Message: fmt.Sprintf("no step's expected_products names %s, so verification from a registry refuses the layout (links copied from another image would verify this one)", ImageArtifact),
			Fix:     fmt.Sprintf("in the step that pushes the image, write expected_products: [CREATE %s, …] and record it with referee run --attach IMAGE --bind-image", ImageArtifact)})
	}
	sortFindings(l, out)
	return out
}

// sortFindings orders findings: the layout's own, then steps and
// inspections in layout order; within one, by rule, then message.
func sortFindings(l *Layout, fs []Finding) {
	pos := map[string]int{"": 0}
	for i, s := range l.Steps {
		pos[s.Name] = 1 + i
	}
	for i, in := range l.Inspect {
		if _, dup := pos[in.Name]; !dup {
			pos[in.Name] = 1 + len(l.Steps) + i
		}
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if pos[a.Step] != pos[b.Step] {
			return pos[a.Step] < pos[b.Step]
		}
		if lintRuleOrder[a.Rule] != lintRuleOrder[b.Rule] {
			return lintRuleOrder[a.Rule] < lintRuleOrder[b.Rule]
		}
		return a.Message < b.Message
	})
}

// LintSpec lints the layout a spec describes, as `referee layout create`
// would build it (Spec.Layout, with loadKey reading functionaries'
// public-key files and LintOptions.Now as the time relative expiries
// count from). It also reports what Spec.Layout refuses but lint can
// explain (a threshold above the step's distinct functionary keys), and
// names keys by their functionaries. The error is whatever else keeps the
// spec from becoming a layout.
func LintSpec(s *Spec, loadKey func(path string) (*Key, error), o LintOptions) ([]Finding, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	keys := map[string]*Key{}
	cached := func(path string) (*Key, error) {
		if k, ok := keys[path]; ok {
			return k, nil
		}
		k, err := loadKey(path)
		if err != nil {
			return nil, err
		}
		keys[path] = k
		return k, nil
	}
	names := map[string][]string{}
	ids := map[string]string{}
	fnames := make([]string, 0, len(s.Functionaries))
	for name := range s.Functionaries {
		fnames = append(fnames, name)
	}
	sort.Strings(fnames)
	for _, name := range fnames {
		k, err := cached(s.Functionaries[name])
		if err != nil {
			return nil, fmt.Errorf("functionary %q: %w", name, err)
		}
		ids[name] = k.KeyID
		names[k.KeyID] = append(names[k.KeyID], name)
	}
	// A threshold no set of links can meet is reported, and lowered in a
	// copy so that the rest of the spec is linted too.
	c := *s
	var extra []Finding
	c.Steps, extra = specThresholds(s.Steps, ids, extra)
	c.Sublayouts, extra = specThresholds(s.Sublayouts, ids, extra)
	l, err := c.Layout(cached, o.Now)
	if err != nil {
		return nil, err
	}
	out := append(lint(l, o, names), extra...)
	sortFindings(l, out)
	return out, nil
}

// specThresholds returns steps with each threshold above the step's
// distinct functionary keys lowered to their number, and a finding for
// each.
func specThresholds(steps []SpecStep, ids map[string]string, out []Finding) ([]SpecStep, []Finding) {
	fixed := append([]SpecStep(nil), steps...)
	for i, st := range fixed {
		distinct := map[string]bool{}
		for _, f := range st.Functionaries {
			if id, ok := ids[f]; ok {
				distinct[id] = true
			}
		}
		if n := len(distinct); n > 0 && st.Threshold > n {
			out = append(out, thresholdFinding(st.Name, st.Threshold, n))
			fixed[i].Threshold = n
		}
	}
	return fixed, out
}

func thresholdFinding(step string, threshold, keys int) Finding {
	return Finding{Rule: LintThreshold, Severity: SeverityError, Step: step,
		Message: fmt.Sprintf("step %q: threshold %d needs links from %d functionaries with different keys, but the step has %d: no set of links can meet it", step, threshold, threshold, keys),
		Fix:     fmt.Sprintf("lower the threshold to %d, or add functionaries with keys of their own", keys)}
}
