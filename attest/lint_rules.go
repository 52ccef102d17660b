package attest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// lintList is one rule list of a step or inspection, parsed; rules that do
// not parse are left out (Validate reports them).
type lintList struct {
	owner string // the step or inspection
	kind  string // "step" or "inspection"
	set   string // "expected_materials" or "expected_products"
	rules []Rule
}

func lintLists(l *Layout) []lintList {
	var out []lintList
	add := func(owner, kind, set string, tokens [][]string) {
		ll := lintList{owner: owner, kind: kind, set: set}
		for _, t := range tokens {
			if r, err := ParseRule(t); err == nil {
				ll.rules = append(ll.rules, r)
			}
		}
		out = append(out, ll)
	}
	for _, s := range l.Steps {
		add(s.Name, "step", "expected_materials", s.ExpectedMaterials)
		add(s.Name, "step", "expected_products", s.ExpectedProducts)
	}
	for _, in := range l.Inspect {
		add(in.Name, "inspection", "expected_materials", in.ExpectedMaterials)
		add(in.Name, "inspection", "expected_products", in.ExpectedProducts)
	}
	return out
}

// srcPattern is the pattern a rule applies to artifact paths of its own
// step: for MATCH … IN prefix, the prefix joined to the pattern as the
// engine joins it.
func srcPattern(r Rule) string {
	if r.Verb == RuleMatch && r.SrcPrefix != "" {
		return pyJoinPrefix(r.SrcPrefix) + r.Pattern
	}
	return r.Pattern
}

// dstPattern is the pattern of the paths a MATCH looks up in the step it
// names: the pattern under the destination prefix.
func dstPattern(r Rule) string {
	if r.DstPrefix != "" {
		return pyJoinPrefix(r.DstPrefix) + r.Pattern
	}
	return r.Pattern
}

// pyJoinPrefix is os.path.join(prefix, ""), as the engine joins prefixes.
func pyJoinPrefix(p string) string {
	if strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

// lintMatches finds MATCH rules whose failure a later rule, or the end of
// the list, lets pass.
func lintMatches(l *Layout) []Finding {
	var out []Finding
	for _, ll := range lintLists(l) {
	next:
		for i, m := range ll.rules {
			if m.Verb != RuleMatch {
				continue
			}
			p := srcPattern(m)
			for _, r := range ll.rules[i+1:] {
				switch r.Verb {
				case RuleDisallow:
					if globCovers(r.Pattern, p) {
						continue next
					}
				case RuleAllow, RuleCreate, RuleDelete, RuleModify:
					if globOverlap(r.Pattern, p) {
						out = append(out, Finding{Rule: LintMatchThenAllow, Severity: SeverityError, Step: ll.owner,
							Message: fmt.Sprintf("%s of %s %q: %q accepts what %q leaves when the hashes differ (a failed MATCH consumes nothing), so %s passes", ll.set, ll.kind, ll.owner, r.String(), m.String(), tampered(p)),
							Fix:     fmt.Sprintf("write DISALLOW %s right after the MATCH, before %s", p, r.String())})
						continue next
					}
				}
			}
			out = append(out, Finding{Rule: LintMatchNotEnforced, Severity: SeverityError, Step: ll.owner,
				Message: fmt.Sprintf("%s of %s %q: no rule after %q disallows what it leaves, and in-toto allows what no rule consumes, so %s passes", ll.set, ll.kind, ll.owner, m.String(), tampered(p)),
				Fix:     fmt.Sprintf("end %s with DISALLOW * (or write DISALLOW %s after the MATCH)", ll.set, p)})
		}
	}
	return out
}

// tampered names what a pattern accepts, tampered: "a tampered app.tar",
// "a tampered artifact matching src/*".
func tampered(p string) string {
	if hasMeta(p) {
		return "a tampered artifact matching " + p
	}
	return "a tampered " + p
}

// lintProducts finds the products of each step that no MATCH … WITH
// PRODUCTS FROM that step covers. The image manifest is checked against
// the image instead, and a sublayout's last step's products by the parent
// layout.
func lintProducts(l *Layout, o LintOptions) []Finding {
	lists := lintLists(l)
	var out []Finding
	for i, s := range l.Steps {
		last := i == len(l.Steps)-1
		if last && o.Sublayout {
			continue
		}
		for _, t := range s.ExpectedProducts {
			r, err := ParseRule(t)
			if err != nil {
				continue
			}
			switch r.Verb {
			case RuleCreate, RuleAllow, RuleModify, RuleMatch:
			default:
				continue
			}
			p := srcPattern(r)
			if p == ImageArtifact || consumed(lists, s.Name, p) {
				continue
			}
			f := Finding{Rule: LintUnconsumedProducts, Severity: SeverityError, Step: s.Name,
				Message: fmt.Sprintf("products %s of step %q (%q) are matched by no other step or inspection (MATCH … WITH PRODUCTS FROM %s), so nothing checks that what is used is what it made", p, s.Name, r.String(), s.Name),
				Fix:     fmt.Sprintf("MATCH %s WITH PRODUCTS FROM %s in the step or inspection that uses them, or stop accepting them (DISALLOW %s)", p, s.Name, p)}
			if last {
				f.Message = fmt.Sprintf("products %s of step %q, the last step, are matched by no inspection (%q): verification never looks at them, so a tampered one passes", p, s.Name, r.String())
				f.Fix = fmt.Sprintf("add an inspection with expected_materials [MATCH %s WITH PRODUCTS FROM %s, DISALLOW *]", p, s.Name)
			}
			out = append(out, f)
		}
	}
	return out
}

// consumed reports whether some rule list other than step's own products
// MATCHes, from step's products, paths that pattern p accepts.
func consumed(lists []lintList, step, p string) bool {
	for _, ll := range lists {
		for _, r := range ll.rules {
			if r.Verb == RuleMatch && r.DstType == Products && r.DstStep == step && globOverlap(dstPattern(r), p) {
				return true
			}
		}
	}
	return false
}

// lintExpiry reports an expiry more than a year after now.
func lintExpiry(l *Layout, now time.Time) []Finding {
	exp, err := l.ExpiresAt()
	if err != nil || !exp.After(now.AddDate(1, 0, 0)) {
		return nil
	}
	return []Finding{{Rule: LintLongExpiry, Severity: SeverityWarning,
		Message: fmt.Sprintf("the layout expires at %s, more than a year after %s: a leaked functionary key stays good until then", l.Expires, now.UTC().Format(TimeFormat)),
		Fix:     "expires: 1y or less, and sign a new layout (with a higher version) before it expires"}}
}

// lintThresholds reports steps whose threshold is above their distinct
// functionary keys, counted by key material as verification counts them.
func lintThresholds(l *Layout) []Finding {
	var out []Finding
	for _, s := range l.Steps {
		distinct := map[string]bool{}
		for _, id := range s.PubKeys {
			distinct[keyMaterial(l.Keys[id], id)] = true
		}
		if n := len(distinct); n > 0 && s.Threshold > n {
			out = append(out, thresholdFinding(s.Name, s.Threshold, n))
		}
	}
	return out
}

// keyMaterial identifies a key by its material (Key.Fingerprint), so that
// one key listed under two keyids counts once; id when it has none.
func keyMaterial(k *Key, id string) string {
	if fp := k.Fingerprint(); fp != "" {
		return fp
	}
	return id
}

// lintKeys reports keys that no step lists and no native check names.
func lintKeys(l *Layout, names map[string][]string) []Finding {
	used := map[string]bool{}
	for _, s := range l.Steps {
		for _, id := range s.PubKeys {
			used[id] = true
		}
	}
	var signedBy []string
	for _, in := range l.Inspect {
		if isNativeCheck(in.Run) {
			signedBy = append(signedBy, checkSignedBy(in.Run)...)
		}
	}
	var out []Finding
	for _, id := range l.KeyIDs() {
		if used[id] || namedBy(signedBy, id, l.Keys[id], names[id]) {
			continue
		}
		what := fmt.Sprintf("key %s", ShortKeyID(id))
		fix := fmt.Sprintf("remove key %s from the layout's keys, or list it in the step it signs for", ShortKeyID(id))
		if fn := names[id]; len(fn) > 0 {
			what = fmt.Sprintf("functionary %s (key %s)", strings.Join(lintQuoted(fn), ", "), ShortKeyID(id))
			fix = fmt.Sprintf("remove %s from functionaries, or list it in the step it signs for", strings.Join(lintQuoted(fn), ", "))
		}
		out = append(out, Finding{Rule: LintUnusedKey, Severity: SeverityWarning,
			Message: fmt.Sprintf("%s is in the layout's keys, but no step lists it and no check names it (--signed-by)", what),
			Fix:     fix})
	}
	return out
}

func lintQuoted(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// namedBy reports whether a --signed-by value names the key: its keyid in
// the layout, the keyid it carries, a prefix of either of 8 or more hex
// digits, or the name of its functionary in the spec.
func namedBy(signedBy []string, id string, k *Key, functionaries []string) bool {
	for _, v := range signedBy {
		for _, kid := range []string{id, keyIDOf(k)} {
			if kid != "" && (v == kid || len(v) >= 8 && strings.HasPrefix(kid, v)) {
				return true
			}
		}
		for _, f := range functionaries {
			if v == f {
				return true
			}
		}
	}
	return false
}

func keyIDOf(k *Key) string {
	if k == nil {
		return ""
	}
	return k.KeyID
}

// isNativeCheck reports whether an inspection's run is `referee check …`,
// which verification evaluates in-process rather than running.
func isNativeCheck(run []string) bool {
	return len(run) >= 2 && (run[0] == "referee" || strings.HasSuffix(run[0], "/referee")) && run[1] == "check"
}

// checkSignedBy returns the values of --signed-by in a referee check
// command.
func checkSignedBy(run []string) []string {
	var out []string
	for i := 2; i < len(run); i++ {
		a := run[i]
		if a == "--" {
			break
		}
		switch {
		case (a == "--signed-by" || a == "-signed-by") && i+1 < len(run):
			out = append(out, run[i+1])
			i++
		case strings.HasPrefix(a, "--signed-by="):
			out = append(out, strings.TrimPrefix(a, "--signed-by="))
		case strings.HasPrefix(a, "-signed-by="):
			out = append(out, strings.TrimPrefix(a, "-signed-by="))
		}
	}
	return out
}

// lintInspections reports a sublayout's inspections (never run) and
// command inspections (run from a registry only when asked).
func lintInspections(l *Layout, o LintOptions) []Finding {
	var out []Finding
	for _, in := range l.Inspect {
		cmd := shellWords(in.Run)
		switch {
		case o.Sublayout:
			out = append(out, Finding{Rule: LintSublayoutInspection, Severity: SeverityError, Step: in.Name,
				Message: fmt.Sprintf("inspection %q (`%s`) is in a sublayout, whose inspections verification never runs (a functionary, not the layout owner, signs a sublayout), so the sublayout never verifies", in.Name, cmd),
				Fix:     fmt.Sprintf("move inspection %q into the root layout, with its rules matching the sublayout's step", in.Name)})
		case !isNativeCheck(in.Run):
			out = append(out, Finding{Rule: LintCommandInspection, Severity: SeverityWarning, Step: in.Name,
				Message: fmt.Sprintf("inspection %q runs `%s`: verification from a registry (verify, promote) runs it only with --run-inspections, and otherwise refuses the image", in.Name, cmd),
				Fix:     "write it as a native check, run: referee check --cel EXPR FILE, which every verification evaluates without running a command"})
		}
	}
	return out
}

// shellWords writes a command on one line, quoting words a shell would
// split (and control characters), and shortens it.
func shellWords(run []string) string {
	words := make([]string, len(run))
	for i, w := range run {
		switch {
		case strings.IndexFunc(w, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0:
			w = strconv.Quote(w)
		case w == "" || strings.ContainsAny(w, " '\"\\$`*?[]{}()<>|&;#~"):
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		words[i] = w
	}
	s := strings.Join(words, " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "…"
	}
	return s
}
