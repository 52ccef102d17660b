package attest

import (
	"errors"
	"fmt"
	"strings"
)

// Verbs of in-toto artifact rules. See
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#433-artifact-rules.
const (
	RuleMatch    = "MATCH"
	RuleAllow    = "ALLOW"
	RuleDisallow = "DISALLOW"
	RuleRequire  = "REQUIRE"
	RuleCreate   = "CREATE"
	RuleDelete   = "DELETE"
	RuleModify   = "MODIFY"
)

// Artifact kinds a MATCH rule compares against.
const (
	Materials = "MATERIALS"
	Products  = "PRODUCTS"
)

// maxRuleTokens bounds the length of one rule (the longest form has 10).
const maxRuleTokens = 10

// Rule is one parsed artifact rule. For MATCH, SrcPrefix and DstPrefix are
// the optional IN prefixes, DstType is Materials or Products and DstStep the
// step named after FROM.
type Rule struct {
	Verb      string
	Pattern   string
	SrcPrefix string
	DstType   string
	DstPrefix string
	DstStep   string
}

// ErrBadRule is wrapped by every rule parsing error.
var ErrBadRule = errors.New("bad artifact rule")

// ParseRuleString parses a rule written on one line, as in a layout spec:
// "MATCH src/* WITH PRODUCTS FROM checkout". Tokens are separated by
// whitespace; keywords are case-insensitive as in the Python reference.
func ParseRuleString(s string) (Rule, error) {
	return ParseRule(strings.Fields(s))
}

// ParseRule parses a rule in the token-list form that layouts store:
// ["MATCH", "src/*", "WITH", "PRODUCTS", "FROM", "checkout"].
func ParseRule(tokens []string) (Rule, error) {
	bad := func(format string, a ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("%w %q: %s", ErrBadRule, strings.Join(tokens, " "), fmt.Sprintf(format, a...))
	}
	if len(tokens) == 0 {
		return bad("empty rule")
	}
	if len(tokens) > maxRuleTokens {
		return bad("too many words")
	}
	for _, t := range tokens {
		if t == "" {
			return bad("empty word")
		}
	}
	verb := strings.ToUpper(tokens[0])
	switch verb {
	case RuleAllow, RuleDisallow, RuleRequire, RuleCreate, RuleDelete, RuleModify:
		if len(tokens) != 2 {
			return bad("%s takes exactly one pattern", verb)
		}
		return Rule{Verb: verb, Pattern: tokens[1]}, nil
	case RuleMatch:
		return parseMatch(tokens, bad)
	}
	return bad("unknown verb %q (want MATCH, ALLOW, DISALLOW, REQUIRE, CREATE, DELETE or MODIFY)", tokens[0])
}

// parseMatch parses
// MATCH <pattern> [IN <src-prefix>] WITH (MATERIALS|PRODUCTS) [IN <dst-prefix>] FROM <step>.
func parseMatch(t []string, bad func(string, ...any) (Rule, error)) (Rule, error) {
	r := Rule{Verb: RuleMatch}
	i := 1
	next := func() (string, bool) {
		if i >= len(t) {
			return "", false
		}
		i++
		return t[i-1], true
	}
	var ok bool
	if r.Pattern, ok = next(); !ok {
		return bad("MATCH needs a pattern")
	}
	kw, ok := next()
	if ok && strings.EqualFold(kw, "IN") {
		if r.SrcPrefix, ok = next(); !ok {
			return bad("IN needs a path prefix")
		}
		kw, ok = next()
	}
	if !ok || !strings.EqualFold(kw, "WITH") {
		return bad("expected WITH after the pattern")
	}
	dst, ok := next()
	switch {
	case ok && strings.EqualFold(dst, Materials):
		r.DstType = Materials
	case ok && strings.EqualFold(dst, Products):
		r.DstType = Products
	default:
		return bad("expected MATERIALS or PRODUCTS after WITH")
	}
	kw, ok = next()
	if ok && strings.EqualFold(kw, "IN") {
		if r.DstPrefix, ok = next(); !ok {
			return bad("IN needs a path prefix")
		}
		kw, ok = next()
	}
	if !ok || !strings.EqualFold(kw, "FROM") {
		return bad("expected FROM <step>")
	}
	if r.DstStep, ok = next(); !ok {
		return bad("FROM needs a step name")
	}
	if i != len(t) {
		return bad("unexpected words after the step name")
	}
	return r, nil
}

// Tokens returns the rule in the token-list form layouts store.
func (r Rule) Tokens() []string {
	if r.Verb != RuleMatch {
		return []string{r.Verb, r.Pattern}
	}
	t := []string{RuleMatch, r.Pattern}
	if r.SrcPrefix != "" {
		t = append(t, "IN", r.SrcPrefix)
	}
	t = append(t, "WITH", r.DstType)
	if r.DstPrefix != "" {
		t = append(t, "IN", r.DstPrefix)
	}
	return append(t, "FROM", r.DstStep)
}

// String returns the rule on one line.
func (r Rule) String() string { return strings.Join(r.Tokens(), " ") }
