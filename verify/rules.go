package verify

import (
	"fmt"
	"strings"
	"sync"

	"github.com/referee-dev/referee/attest"
)

// RuleResult is the outcome of one artifact rule of one step.
type RuleResult struct {
	// Set is "materials" or "products".
	Set  string `json:"set"`
	Rule string `json:"rule"`
	// Consumed counts the artifacts the rule took off the queue.
	Consumed int  `json:"consumed"`
	Passed   bool `json:"passed"`
	// Artifacts names the artifacts that made the rule fail.
	Artifacts []string `json:"artifacts,omitempty"`
	Message   string   `json:"message,omitempty"`
}

// ruleEnv is what rule evaluation reads: the link under test and the chosen
// link of every step and inspection that MATCH may name, in compact form
// (attest.Artifacts: paths in sorted order, hashed lookups).
type ruleEnv struct {
	link   *attest.CompactLink
	chosen map[string]*attest.CompactLink
	globs  *globCache
}

// globCache holds the patterns compiled so far, for the rules of every
// step, which applyAll applies on several goroutines.
type globCache struct {
	mu sync.Mutex
	m  map[string]glob
}

func (e *ruleEnv) glob(p string) (glob, error) {
	c := e.globs
	c.mu.Lock()
	g, ok := c.m[p]
	c.mu.Unlock()
	if ok {
		return g, nil
	}
	g, err := compileGlob(p)
	if err == nil {
		c.mu.Lock()
		c.m[p] = g
		c.mu.Unlock()
	}
	return g, err
}

// applyRules evaluates rules in order on one artifact set with in-toto's
// consumption semantics: each rule takes the artifacts it accounts for off a
// queue; DISALLOW fails on what is left that matches; REQUIRE fails if the
// named artifact is not left. What no rule consumes is allowed. See
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#433-artifact-rules.
// It returns the results and, on the first failing rule, a Failure.
func (e *ruleEnv) applyRules(step, set string, rules [][]string) ([]RuleResult, *Failure) {
	arts := e.link.Materials
	if set == "products" {
		arts = e.link.Products
	}
	// The queue is the entries not yet consumed, by index: the entries
	// are in path order, so what a rule matches comes sorted.
	queued := make([]bool, arts.Len())
	for i := range queued {
		queued[i] = true
	}
	// why records, for an artifact a MATCH matched but did not consume, the
	// reason, so a later DISALLOW can say what to fix.
	why := map[string]string{}
	var results []RuleResult
	for _, tokens := range rules {
		r, err := attest.ParseRule(tokens)
		if err != nil {
			return results, &Failure{Step: step, Rule: strings.Join(tokens, " "), Reason: err.Error()}
		}
		res := RuleResult{Set: set, Rule: r.String(), Passed: true}
		g, err := e.glob(r.Pattern)
		if err != nil {
			return results, &Failure{Step: step, Rule: r.String(), Reason: err.Error()}
		}
		// With MATCH … IN prefix, only queued paths under the prefix take
		// part, and the pattern applies to the rest of the path (as the
		// Python reference; in-toto-golang also matches paths outside it).
		prefix := ""
		if r.Verb == attest.RuleMatch && r.SrcPrefix != "" {
			prefix = pyJoin(r.SrcPrefix, "")
		}
		var matched []int
		if r.Verb != attest.RuleRequire {
			for i, q := range queued {
				if p := arts.Path(i); q && strings.HasPrefix(p, prefix) && g.match(p[len(prefix):]) {
					matched = append(matched, i)
				}
			}
		}
		var consumed []int
		switch r.Verb {
		case attest.RuleAllow:
			consumed = matched
		case attest.RuleDisallow:
			if len(matched) > 0 {
				res.Passed = false
				res.Artifacts = paths(arts, matched)
				res.Message = disallowMessage(set, res.Artifacts, why)
			}
		case attest.RuleRequire:
			if i := arts.Find(r.Pattern); i < 0 || !queued[i] {
				res.Passed = false
				res.Artifacts = []string{r.Pattern}
				res.Message = fmt.Sprintf("required %s %q is not among the step's %s left by earlier rules", singular(set), r.Pattern, set)
			}
		case attest.RuleCreate:
			for _, i := range matched {
				if lookup(e.link.Materials, arts, i) < 0 {
					consumed = append(consumed, i)
				}
			}
		case attest.RuleDelete:
			for _, i := range matched {
				if lookup(e.link.Products, arts, i) < 0 {
					consumed = append(consumed, i)
				}
			}
		case attest.RuleModify:
			m, pr := e.link.Materials, e.link.Products
			for _, i := range matched {
				mi, pi := lookup(m, arts, i), lookup(pr, arts, i)
				if mi >= 0 && pi >= 0 && !m.SameHashes(mi, pr, pi) {
					consumed = append(consumed, i)
				}
			}
		case attest.RuleMatch:
			consumed = e.match(r, arts, matched, why)
		}
		for _, i := range consumed {
			queued[i] = false
		}
		res.Consumed = len(consumed)
		results = append(results, res)
		if !res.Passed {
			f := &Failure{Step: step, Rule: r.String(), Reason: res.Message}
			if len(res.Artifacts) > 0 {
				f.Artifact = res.Artifacts[0]
			}
			return results, f
		}
	}
	return results, nil
}

// lookup is the entry in t of the path of arts' entry i: i itself where
// the two tables share their paths (a step's materials and products, or
// one step's products and the next one's materials, often list the same
// files), else found by its hash.
func lookup(t, arts *attest.Artifacts, i int) int {
	if t.SamePaths(arts) {
		return i
	}
	return t.Find(arts.Path(i))
}

// paths names the entries at indices of arts.
func paths(arts *attest.Artifacts, indices []int) []string {
	out := make([]string, len(indices))
	for k, i := range indices {
		out[k] = arts.Path(i)
	}
	return out
}

// match consumes the artifacts whose counterpart in the named step's
// materials or products has the same hashes, after swapping the IN prefixes.
func (e *ruleEnv) match(r attest.Rule, arts *attest.Artifacts, matched []int, why map[string]string) []int {
	dst := e.chosen[r.DstStep]
	if dst == nil {
		for _, i := range matched {
			why[arts.Path(i)] = fmt.Sprintf("%q found no link of step %q to match against", r.String(), r.DstStep)
		}
		return nil
	}
	dstArts := dst.Materials
	if r.DstType == attest.Products {
		dstArts = dst.Products
	}
	var consumed []int
	prefixed := r.SrcPrefix != "" || r.DstPrefix != ""
	for _, i := range matched {
		p := arts.Path(i)
		dp := p
		if r.SrcPrefix != "" {
			dp = strings.TrimPrefix(p, pyJoin(r.SrcPrefix, ""))
		}
		if r.DstPrefix != "" {
			dp = pyJoin(r.DstPrefix, dp)
		}
		var j int
		if prefixed {
			j = dstArts.Find(dp)
		} else {
			j = lookup(dstArts, arts, i)
		}
		switch {
		case j < 0:
			why[p] = fmt.Sprintf("%q found no %q among the %s of step %q", r.String(), dp, strings.ToLower(r.DstType), r.DstStep)
		case !arts.SameHashes(i, dstArts, j):
			why[p] = fmt.Sprintf("%q: its hash %s differs from %s in the %s of step %q", r.String(), hashSummary(arts.Hashes(i)), hashSummary(dstArts.Hashes(j)), strings.ToLower(r.DstType), r.DstStep)
		default:
			consumed = append(consumed, i)
		}
	}
	return consumed
}

// pyJoin joins two path parts as Python's os.path.join does, which the
// reference uses for MATCH prefixes: an absolute b wins, and a '/' is added
// only where a does not end with one.
func pyJoin(a, b string) string {
	switch {
	case strings.HasPrefix(b, "/"):
		return b
	case a == "" || strings.HasSuffix(a, "/"):
		return a + b
	}
	return a + "/" + b
}

func disallowMessage(set string, matched []string, why map[string]string) string {
	first := matched[0]
	msg := fmt.Sprintf("%s %q is disallowed", singular(set), first)
	if len(matched) > 1 {
		msg = fmt.Sprintf("%d %s are disallowed, first %q", len(matched), set, first)
	}
	if w, ok := why[first]; ok {
		msg += " (not consumed: " + w + ")"
	} else {
		msg += " (no earlier rule accounts for it)"
	}
	return msg
}

func singular(set string) string { return strings.TrimSuffix(set, "s") }

// sameHashes compares two hash objects as the references do: equal maps.
func sameHashes(a, b attest.HashObj) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func hashSummary(h attest.HashObj) string {
	if d, ok := h["sha256"]; ok {
		return "sha256:" + shortHex(d)
	}
	for k, d := range h {
		return k + ":" + shortHex(d)
	}
	return "(none)"
}

func shortHex(d string) string {
	if len(d) > 12 {
		return d[:12] + "…"
	}
	return d
}
