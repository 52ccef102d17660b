package attest

import (
	"fmt"
	"strings"

	"github.com/referee-dev/referee/internal/fnmatch"
)

// lintGlobs reports patterns that Python's fnmatch (the specification's,
// and referee's, reading) and in-toto-golang's matcher read differently:
// the table in docs/deviations.md, "Patterns". REQUIRE names an artifact
// literally in both and is not a pattern.
func lintGlobs(l *Layout) []Finding {
	var out []Finding
	for _, ll := range lintLists(l) {
		for _, r := range ll.rules {
			if r.Verb == RuleRequire {
				continue
			}
			add := func(msg, fix string) {
				out = append(out, Finding{Rule: LintGlobDiffers, Severity: SeverityWarning, Step: ll.owner,
					Message: fmt.Sprintf("%s of %s %q, %q: %s", ll.set, ll.kind, ll.owner, r.String(), msg), Fix: fix})
			}
			c := globConstructs(r.Pattern)
			if c.backslash {
				add(`a \ is an ordinary character for Python in-toto (and referee), an escape for in-toto-golang`,
					`write [*], [?] or [[] for a literal *, ? or [, not \`)
			}
			if c.unclosed {
				add("an unclosed [ is an ordinary character for Python in-toto (and referee), a syntax error that matches nothing for in-toto-golang",
					"write [[] for a literal [")
			}
			if c.bracketFirst {
				add("a set starting with ] ([]…]) contains ] for Python in-toto (and referee), and is a syntax error that matches nothing for in-toto-golang",
					"match ] outside a set, where it is an ordinary character, or with ?")
			}
			if c.caret {
				add("[^…] is a set containing ^ for Python in-toto (and referee), a negation for Go's path.Match and in-toto-golang before GHSA-pmwq-pjrm-6p5r",
					"write [!…] to negate, or put ^ after the first character of the set ([a^]) for a literal ^")
			}
			if r.Verb == RuleMatch && r.SrcPrefix != "" {
				pre := pyJoinPrefix(r.SrcPrefix)
				add(fmt.Sprintf("in-toto-golang also applies the pattern to paths outside %s and consumes those whose hashes match, Python in-toto and referee only to paths under it", pre),
					fmt.Sprintf("keep artifacts outside %s that match %q out of this step, or account for them in a rule before the MATCH, so that both references treat them alike", pre, r.Pattern))
			}
		}
	}
	return out
}

// globFeatures are the constructs of one pattern that the references read
// differently.
type globFeatures struct {
	backslash, unclosed, bracketFirst, caret bool
}

// globConstructs scans a pattern as fnmatch.translate does.
func globConstructs(p string) globFeatures {
	var f globFeatures
	f.backslash = strings.Contains(p, `\`)
	for i := 0; i < len(p); i++ {
		if p[i] != '[' {
			continue
		}
		j := i + 1
		if j < len(p) && p[j] == '!' {
			j++
		}
		first := j < len(p) && p[j] == ']'
		if first {
			j++
		}
		for j < len(p) && p[j] != ']' {
			j++
		}
		if j >= len(p) {
			f.unclosed = true // a literal '[': scanning goes on after it
			continue
		}
		f.bracketFirst = f.bracketFirst || first
		f.caret = f.caret || p[i+1] == '^'
		i = j
	}
	return f
}

// globMatch reports whether path matches pattern as the engine matches
// it (internal/fnmatch, Python's fnmatch); a pattern that does not
// compile (a reversed range) matches nothing, as in the engine.
func globMatch(pattern, path string) bool { return fnmatch.Match(pattern, path) }

func hasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// literalEnds returns the literal text of p before its first and after
// its last wildcard.
func literalEnds(p string) (prefix, suffix string) {
	i := strings.IndexAny(p, "*?[")
	j := strings.LastIndexAny(p, "*?]")
	if i < 0 {
		return p, p
	}
	if j < i {
		j = len(p) - 1 // an unclosed '[': no literal suffix is certain
	}
	return p[:i], p[j+1:]
}

// globCovers reports, conservatively, whether every path that b accepts
// is also accepted by a: false when that cannot be told cheaply, so that
// lint errs towards reporting a rule that may not be enforced.
func globCovers(a, b string) bool {
	switch {
	case a == b:
		return true
	case !hasMeta(b):
		return globMatch(a, b)
	case strings.Trim(a, "*") == "":
		return true
	}
	bp, bs := literalEnds(b)
	if lit := strings.TrimRight(a, "*"); len(lit) < len(a) && !hasMeta(lit) {
		return strings.HasPrefix(bp, lit) // a is "lit*"
	}
	if lit := strings.TrimLeft(a, "*"); len(lit) < len(a) && !hasMeta(lit) {
		return strings.HasSuffix(bs, lit) // a is "*lit"
	}
	return false
}

// globOverlap reports, conservatively, whether some path is accepted by
// both a and b: true when that cannot be ruled out cheaply.
func globOverlap(a, b string) bool {
	switch {
	case !hasMeta(a):
		return globMatch(b, a)
	case !hasMeta(b):
		return globMatch(a, b)
	}
	ap, as := literalEnds(a)
	bp, bs := literalEnds(b)
	prefixes := strings.HasPrefix(ap, bp) || strings.HasPrefix(bp, ap)
	suffixes := strings.HasSuffix(as, bs) || strings.HasSuffix(bs, as)
	return prefixes && suffixes
}
