package attest_test

// Lint's claims checked against the verification engine: what lint says
// passes or is refused, the engine passes or refuses. These tests import
// verify (which imports attest); they could move to verify's tests.

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// engine verifies layout l with the verification engine: one functionary
// signs a link per step, recording the artifacts given (path → content);
// image, when set, is the image digest verification binds to.
type engineLink struct{ materials, products map[string]string }

func engineVerify(t *testing.T, l attest.Layout, links map[string]engineLink, image string) error {
	t.Helper()
	owner, err := attest.GenerateKey(attest.KeyTypeEd25519)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := attest.GenerateKey(attest.KeyTypeEd25519)
	if err != nil {
		t.Fatal(err)
	}
	l.Expires = time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat)
	l.Keys = map[string]*attest.Key{fn.Key().KeyID: fn.Key()}
	l.Steps = slices.Clone(l.Steps)
	for i := range l.Steps {
		l.Steps[i].Threshold, l.Steps[i].PubKeys = 1, []string{fn.Key().KeyID}
	}
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, owner)
	if err != nil {
		t.Fatal(err)
	}
	hashes := func(arts map[string]string) map[string]attest.HashObj {
		out := map[string]attest.HashObj{}
		for p, content := range arts {
			sum := sha256.Sum256([]byte(content))
			out[p] = attest.HashObj{"sha256": hex.EncodeToString(sum[:])}
		}
		return out
	}
	var evidence []verify.Evidence
	for name, el := range links {
		link := &attest.Link{Name: name, Command: []string{"true"}, Materials: hashes(el.materials), Products: hashes(el.products)}
		lp, err := link.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		le, err := attest.SignPayload(attest.FormDSSE, lp, fn)
		if err != nil {
			t.Fatal(err)
		}
		evidence = append(evidence, verify.Evidence{Source: name + ".link", Envelope: le})
	}
	_, err = verify.Verify(t.Context(), verify.Evidence{Source: "root.layout", Envelope: env}, evidence,
		verify.Options{LayoutKeys: []*attest.Key{owner.Key()}, ImageDigest: image})
	return err
}

func tokens(t *testing.T, rules ...string) [][]string {
	t.Helper()
	var out [][]string
	for _, s := range rules {
		r, err := attest.ParseRuleString(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Tokens())
	}
	return out
}

// What rules 1 and 2 say, the engine does: under a MATCH followed by an
// ALLOW, or by nothing, a tampered app.tar verifies; written as the fix
// says, it does not.
func TestLintMatchAgreesWithEngine(t *testing.T) {
	build := attest.Step{Name: "build", ExpectedProducts: tokens(t, "CREATE app.tar", "DISALLOW *")}
	links := map[string]engineLink{
		"build":   {products: map[string]string{"app.tar": "built"}},
		"package": {materials: map[string]string{"app.tar": "tampered"}, products: map[string]string{}},
	}
	for _, c := range []struct {
		rule      string
		materials []string
		finding   bool
	}{
		{attest.LintMatchThenAllow, []string{"MATCH app.tar WITH PRODUCTS FROM build", "ALLOW *"}, true},
		{attest.LintMatchThenAllow, []string{"MATCH app.tar WITH PRODUCTS FROM build", "DISALLOW app.tar", "ALLOW *"}, false},
		{attest.LintMatchNotEnforced, []string{"MATCH app.tar WITH PRODUCTS FROM build"}, true},
		{attest.LintMatchNotEnforced, []string{"MATCH app.tar WITH PRODUCTS FROM build", "DISALLOW *"}, false},
	} {
		t.Run(strings.Join(c.materials, ", "), func(t *testing.T) {
			l := attest.Layout{Steps: []attest.Step{build, {Name: "package", ExpectedMaterials: tokens(t, c.materials...)}}}
			found := hasFinding(attest.Lint(&l, attest.LintOptions{Now: lintNow}), c.rule, "package")
			err := engineVerify(t, l, links, "")
			if found != c.finding {
				t.Errorf("%s finding: %v, want %v", c.rule, found, c.finding)
			}
			if err != nil && !strings.Contains(err.Error(), `"app.tar"`) {
				t.Fatalf("verification failed for another reason: %v", err)
			}
			if tamperedPasses := err == nil; tamperedPasses != c.finding {
				t.Errorf("the engine accepts the tampered app.tar: %v (err %v); lint says %v", tamperedPasses, err, c.finding)
			}
		})
	}
}

// Lint reads patterns as the engine matches them: MATCH PATH then ALLOW
// PATTERN is reported exactly when the engine's ALLOW PATTERN takes PATH.
func TestLintGlobAgreesWithEngine(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		match         bool
	}{
		{"*", "a/b", true},
		{"*.py", "src/x.py", true},
		{"src/*", "srcx", false},
		{"*", ".hidden", true},
		{"?", "a", true},
		{"?", "ab", false},
		{"[!a]b", "cb", true},
		{"[!a]b", "ab", false},
		{"[^a]", "^", true},
		{"[^a]", "b", false},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{`foo\*`, "foo*", false},
		{"[]a].c", "].c", true},
		{"[]a].c", "b.c", false},
		{"a]b", "a]b", true},
		{"a.b", "axb", false},
	} {
		t.Run(c.pattern+" "+c.path, func(t *testing.T) {
			err := engineVerify(t, attest.Layout{Steps: []attest.Step{{Name: "s", ExpectedProducts: tokens(t, "ALLOW "+c.pattern, "DISALLOW *")}}},
				map[string]engineLink{"s": {products: map[string]string{c.path: "x"}}}, "")
			if err != nil && !strings.Contains(err.Error(), `rule "DISALLOW *"`) {
				t.Fatalf("verification failed for another reason: %v", err)
			}
			engine := err == nil
			if engine != c.match {
				t.Fatalf("the engine's ALLOW %s takes %s: %v, want %v", c.pattern, c.path, engine, c.match)
			}
			if strings.ContainsAny(c.path, "*?[") {
				return // not a literal path for a MATCH
			}
			l := attest.Layout{Steps: []attest.Step{
				{Name: "a", ExpectedProducts: tokens(t, "ALLOW *")},
				{Name: "b", ExpectedMaterials: tokens(t, "MATCH "+c.path+" WITH PRODUCTS FROM a", "ALLOW "+c.pattern)},
			}}
			if lint := hasFinding(attest.Lint(&l, attest.LintOptions{Now: lintNow}), attest.LintMatchThenAllow, "b"); lint != c.match {
				t.Errorf("lint: ALLOW %s takes what MATCH %s leaves: %v, the engine: %v", c.pattern, c.path, lint, c.match)
			}
		})
	}
}

// image-not-bound is reported exactly when verification from a registry
// refuses the layout for binding no step to the image.
func TestLintImageBindingAgreesWithEngine(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		name     string
		products []string
		bound    bool
	}{
		{"CREATE", []string{"CREATE app.tar", "CREATE " + attest.ImageArtifact, "DISALLOW *"}, true},
		{"ALLOW", []string{"ALLOW " + attest.ImageArtifact, "ALLOW *"}, true},
		{"a pattern that matches it", []string{"ALLOW referee:*", "ALLOW *"}, false},
		{"none", []string{"CREATE app.tar", "ALLOW *"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := attest.Layout{Steps: []attest.Step{{Name: "build", ExpectedProducts: tokens(t, c.products...)}}}
			err := engineVerify(t, l, map[string]engineLink{"build": {products: map[string]string{"app.tar": "x"}}}, digest)
			refused := err != nil && strings.Contains(err.Error(), "binds no step to the image")
			if refused == c.bound {
				t.Errorf("the engine refuses for binding no step: %v (err %v), want %v", refused, err, !c.bound)
			}
			if lint := hasFinding(attest.Lint(&l, attest.LintOptions{Now: lintNow}), attest.LintImageNotBound, ""); lint != refused {
				t.Errorf("image-not-bound finding %v, the engine refuses: %v", lint, refused)
			}
		})
	}
}
