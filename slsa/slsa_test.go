package slsa_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/slsa"
	"github.com/referee-dev/referee/verify"
)

// chain is a supply chain with real keys: the build step may be signed
// by ci, runner or dev (its threshold as a test says), scan by ci, push
// (which binds the image) by ci; mallory is in no layout.
type chain struct {
	t    *testing.T
	keys map[string]*attest.Signer
}

func newChain(t *testing.T) *chain {
	c := &chain{t: t, keys: map[string]*attest.Signer{}}
	for _, who := range []string{"owner", "ci", "runner", "dev", "mallory"} {
		s, err := attest.GenerateKey(attest.KeyTypeEd25519)
		if err != nil {
			t.Fatal(err)
		}
		c.keys[who] = s
	}
	return c
}

func (c *chain) id(who string) string { return c.keys[who].Key().KeyID }

const chainSpec = `expires: 1h
readme: the app
functionaries:
  ci: ci.pub
  runner: runner.pub
  dev: dev.pub
steps:
  - name: build
    threshold: %d
    functionaries: [ci, runner, dev]
    expected_products: [CREATE app.tar, DISALLOW *]
  - name: scan
    functionaries: [ci]
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
    expected_products: [CREATE report.json, DISALLOW *]
  - name: push
    functionaries: [ci]
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
    expected_products: [CREATE referee:image-manifest, DISALLOW *]
%s`

// layout builds the layout of chainSpec from its YAML, as layout create
// does, with the slsa declaration given (YAML, or none) and readme lines
// added after, and signs it as the owner.
func (c *chain) layout(threshold int, slsaYAML string, readme ...string) (*attest.Layout, *attest.Envelope) {
	c.t.Helper()
	spec, err := attest.ParseSpec(fmt.Appendf(nil, chainSpec, threshold, slsaYAML))
	if err != nil {
		c.t.Fatal(err)
	}
	l, err := spec.Layout(func(path string) (*attest.Key, error) {
		s, ok := c.keys[strings.TrimSuffix(path, ".pub")]
		if !ok {
			return nil, errors.New("no such key")
		}
		return s.Key(), nil
	}, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	for _, line := range readme {
		l.Readme += "\n" + line
	}
	payload, err := l.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	return l, c.sign(payload, "owner")
}

func (c *chain) sign(payload []byte, who string) *attest.Envelope {
	c.t.Helper()
	env, err := attest.SignPayload(attest.FormDSSE, payload, c.keys[who])
	if err != nil {
		c.t.Fatal(err)
	}
	return env
}

func sha(s string) attest.HashObj {
	h := fmt.Sprintf("%x", s)
	return attest.HashObj{"sha256": (h + strings.Repeat("0", 64))[:64]}
}

// link is who's signed link of step.
func (c *chain) link(step, who string, materials, products map[string]attest.HashObj) verify.Evidence {
	c.t.Helper()
	l := &attest.Link{Name: step, Command: []string{step}, Materials: materials, Products: products}
	payload, err := l.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	return verify.Evidence{Source: step + "." + who + ".link", Envelope: c.sign(payload, who)}
}

// links are the chain's links: build signed by each of builders, scan
// by scanner, push by ci of image.
func (c *chain) links(image string, scanner string, builders ...string) []verify.Evidence {
	tar := map[string]attest.HashObj{"app.tar": sha("app")}
	var out []verify.Evidence
	for _, who := range builders {
		out = append(out, c.link("build", who, nil, tar))
	}
	out = append(out, c.link("scan", scanner, tar, map[string]attest.HashObj{"report.json": sha("clean")}))
	out = append(out, c.link("push", "ci", tar, map[string]attest.HashObj{attest.ImageArtifact: {"sha256": image}}))
	return out
}

const image = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// verifyChain verifies the links against the layout with the real engine.
func (c *chain) verifyChain(env *attest.Envelope, links []verify.Evidence) *verify.Report {
	c.t.Helper()
	r, err := verify.Verify(context.Background(), verify.Evidence{Source: "root.layout", Envelope: env}, links,
		verify.Options{LayoutKeys: []*attest.Key{c.keys["owner"].Key()}, ImageDigest: "sha256:" + image})
	if r == nil {
		c.t.Fatal(err)
	}
	return r
}

func TestLevel(t *testing.T) {
	c := newChain(t)
	full := "slsa: {build: build, hosted: [ci, runner], hardened: [ci]}\n"
	for _, tc := range []struct {
		name      string
		slsa      string
		threshold int
		builders  []string
		scanner   string
		want      slsa.BuildLevel
		verified  bool
		reasons   [3]string // a part of each level's reason
	}{
		{name: "no declaration", threshold: 1, builders: []string{"ci"}, want: 0, verified: true,
			reasons: [3]string{"the layout declares no build step", "declares no build step", "declares no build step"}},
		{name: "build step only", slsa: "slsa: {build: build}\n", threshold: 1, builders: []string{"ci"}, want: 1, verified: true,
			reasons: [3]string{`build step "build" verified: build.ci.link signed by ` + c.id("ci")[:8], "the layout declares no hosted build platform", "the layout declares no hardened build platform"}},
		{name: "hosted platform", slsa: "slsa: {build: build, hosted: [runner]}\n", threshold: 1, builders: []string{"runner"}, want: 2, verified: true,
			reasons: [3]string{"build.runner.link", `build.runner.link of build step "build" is signed by key ` + c.id("runner")[:8] + ", declared hosted", "declares no hardened"}},
		{name: "hardened platform", slsa: full, threshold: 1, builders: []string{"ci"}, want: 3, verified: true,
			reasons: [3]string{"build.ci.link", "declared hosted", `build.ci.link of build step "build" is signed by key ` + c.id("ci")[:8] + ", declared hardened"}},
		{name: "hosted but not hardened", slsa: full, threshold: 1, builders: []string{"runner"}, want: 2, verified: true,
			reasons: [3]string{"build.runner.link", "declared hosted", `no counted link of build step "build" is signed by a functionary declared hardened (build.runner.link signed by ` + c.id("runner")[:8] + "; declared hardened: " + c.id("ci")[:8] + ")"}},
		{name: "a developer's build", slsa: full, threshold: 1, builders: []string{"dev"}, want: 1, verified: true,
			reasons: [3]string{"build.dev.link", "no counted link of build step \"build\" is signed by a functionary declared hosted", "declared hardened"}},
		{name: "the hosted platform signs another step only", slsa: "slsa: {build: build, hosted: [ci]}\n", threshold: 1, builders: []string{"dev"}, scanner: "ci", want: 1, verified: true,
			reasons: [3]string{"build.dev.link", "declared hosted (build.dev.link signed by " + c.id("dev")[:8], "declares no hardened"}},
		{name: "two builders, one hardened", slsa: full, threshold: 2, builders: []string{"dev", "ci"}, want: 3, verified: true,
			reasons: [3]string{"build.dev.link signed by " + c.id("dev")[:8] + "; build.ci.link signed by " + c.id("ci")[:8], "build.ci.link", "build.ci.link"}},
		{name: "a build link by someone else", slsa: full, threshold: 1, builders: []string{"mallory"}, want: 0,
			reasons: [3]string{`the supply chain is not verified: step "build"`, "not verified", "not verified"}},
		{name: "no build link", slsa: full, threshold: 1, want: 0,
			reasons: [3]string{"not verified", "not verified", "not verified"}},
		{name: "threshold not met", slsa: full, threshold: 2, builders: []string{"ci"}, want: 0,
			reasons: [3]string{"not verified", "not verified", "not verified"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layout, env := c.layout(tc.threshold, tc.slsa)
			scanner := tc.scanner
			if scanner == "" {
				scanner = "ci"
			}
			r := c.verifyChain(env, c.links(image, scanner, tc.builders...))
			if r.Verified != tc.verified {
				t.Fatalf("verified %v: %+v", r.Verified, r.Failures)
			}
			res := slsa.Level(layout, r)
			if res.Level != tc.want || res.Invalid != "" || len(res.Requirements) != 3 {
				t.Fatalf("level %s, want %s: %+v", res.Level, tc.want, res)
			}
			for i, q := range res.Requirements {
				if q.Level != slsa.BuildLevel(i+1) || q.Met != (slsa.BuildLevel(i+1) <= tc.want) || !strings.Contains(q.Reason, tc.reasons[i]) {
					t.Errorf("L%d: met %v, reason %q; want %q", i+1, q.Met, q.Reason, tc.reasons[i])
				}
			}
			if u := res.Unmet(tc.want); u != nil {
				t.Errorf("Unmet(%s) = %+v", tc.want, u)
			}
			if tc.want < slsa.MaxBuildLevel {
				if u := res.Unmet(slsa.MaxBuildLevel); u == nil || u.Level != tc.want+1 {
					t.Errorf("Unmet(L3) = %+v, want L%d's requirement", u, tc.want+1)
				}
			}
		})
	}
}

// TestLevelDeclarationInReadme covers declarations written into the
// readme by hand: either generation of keyid, and malformed lines, which
// verify (the engine does not read them) but support no level.
func TestLevelDeclarationInReadme(t *testing.T) {
	c := newChain(t)
	ci := c.keys["ci"].Key()
	if ci.CurrentID() == ci.KeyID {
		t.Fatal("the test needs a key whose two keyids differ")
	}
	for _, tc := range []struct {
		name, line string
		want       slsa.BuildLevel
		invalid    string
	}{
		{"in-toto 1.3 keyid", "referee-slsa: build=build hosted=" + ci.KeyID + " hardened=" + ci.KeyID, 3, ""},
		{"current in-toto keyid", "referee-slsa: build=build hosted=" + ci.CurrentID() + " hardened=" + ci.CurrentID(), 3, ""},
		{"mixed generations", "referee-slsa: build=build hosted=" + ci.CurrentID() + " hardened=" + ci.KeyID, 3, ""},
		{"unknown step", "referee-slsa: build=compile hosted=" + ci.KeyID, 0, `invalid layout: readme line "referee-slsa: build=compile`},
		{"unknown field", "referee-slsa: build=build level=3", 0, `unknown field "level"`},
		{"a key that is no functionary of the build", "referee-slsa: build=build hosted=" + c.id("mallory"), 0, "is not a key of the layout"},
		{"hardened, not hosted", "referee-slsa: build=build hardened=" + ci.KeyID, 0, "is not also hosted"},
		{"two declarations", "referee-slsa: build=build\nreferee-slsa: build=scan", 0, "2 referee-slsa: lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layout, env := c.layout(1, "", tc.line)
			r := c.verifyChain(env, c.links(image, "ci", "ci"))
			if !r.Verified {
				t.Fatalf("not verified: %+v", r.Failures)
			}
			res := slsa.Level(layout, r)
			if res.Level != tc.want || !strings.Contains(res.Invalid, tc.invalid) || (tc.invalid == "") != (res.Invalid == "") {
				t.Fatalf("level %s invalid %q; want %s, %q", res.Level, res.Invalid, tc.want, tc.invalid)
			}
			if tc.invalid != "" {
				for _, q := range res.Requirements {
					if q.Met || q.Reason != res.Invalid {
						t.Errorf("requirement %+v", q)
					}
				}
			}
		})
	}
}

// TestLevelWithoutReport: no report, or no layout, supports nothing.
func TestLevelWithoutReport(t *testing.T) {
	c := newChain(t)
	layout, env := c.layout(1, "slsa: {build: build, hosted: [ci], hardened: [ci]}\n")
	r := c.verifyChain(env, c.links(image, "ci", "ci"))
	for name, res := range map[string]slsa.Result{"no report": slsa.Level(layout, nil), "no layout": slsa.Level(nil, r)} {
		if res.Level != 0 || len(res.Requirements) != 3 || res.Requirements[0].Met || !strings.Contains(res.Requirements[0].Reason, "not verified") {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestResultJSON(t *testing.T) {
	c := newChain(t)
	layout, env := c.layout(1, "slsa: {build: build, hosted: [ci, runner], hardened: [ci]}\n")
	res := slsa.Level(layout, c.verifyChain(env, c.links(image, "ci", "runner")))
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Level        string `json:"level"`
		Build        string `json:"buildStep"`
		Requirements []struct {
			Level, Requirement, Reason string
			Met                        bool
		} `json:"requirements"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Level != "SLSA_BUILD_LEVEL_2" || got.Build != "build" || len(got.Requirements) != 3 ||
		got.Requirements[2].Level != "SLSA_BUILD_LEVEL_3" || got.Requirements[2].Met || got.Requirements[1].Requirement != "provenance signed by a hosted build platform" {
		t.Fatalf("%s", b)
	}
	var back slsa.Result
	if err := json.Unmarshal(b, &back); err != nil || back.Level != slsa.BuildLevel2 || back.Requirements[0].Level != slsa.BuildLevel1 {
		t.Fatalf("read back: %+v %v", back, err)
	}
	if _, err := json.Marshal(slsa.Result{Level: 4}); err == nil {
		t.Error("level 4 encoded")
	}
}

func TestParseBuildLevel(t *testing.T) {
	for i, s := range []string{"SLSA_BUILD_LEVEL_0", "SLSA_BUILD_LEVEL_1", "SLSA_BUILD_LEVEL_2", "SLSA_BUILD_LEVEL_3"} {
		if l, err := slsa.ParseBuildLevel(s); err != nil || l != slsa.BuildLevel(i) || l.String() != s {
			t.Errorf("%s: %v %v", s, l, err)
		}
	}
	for _, s := range []string{"", "SLSA_BUILD_LEVEL_4", "SLSA_BUILD_LEVEL_", "SLSA_BUILD_LEVEL_01", "SLSA_BUILD_LEVEL_-1", "slsa_build_level_1", "SLSA_SOURCE_LEVEL_1", "SLSA_BUILD_LEVEL_1 ", "L1"} {
		if _, err := slsa.ParseBuildLevel(s); err == nil || !strings.Contains(err.Error(), "is not a SLSA v1.0 Build level") {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestWriteText(t *testing.T) {
	c := newChain(t)
	layout, env := c.layout(1, "slsa: {build: build, hosted: [ci, runner], hardened: [ci]}\n")
	res := slsa.Level(layout, c.verifyChain(env, c.links(image, "ci", "runner")))
	var b strings.Builder
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"build step build",
		"  L1 provenance exists: met: build step \"build\" verified: build.runner.link signed by " + c.id("runner")[:8],
		"  L2 provenance signed by a hosted build platform: met: build.runner.link",
		"  L3 hardened build platform: NOT met: no counted link",
		"SLSA_BUILD_LEVEL_2 (SLSA v1.0 Build track)",
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%s", b.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want %q…", i+1, lines[i], w)
		}
	}
}

// TestLevelSublayoutBuild: when the build step is a sublayout, what
// counted for it is the sublayout, and its signer is the build's.
func TestLevelSublayoutBuild(t *testing.T) {
	c := newChain(t)
	spec := `expires: 1h
functionaries: {ci: ci.pub, runner: runner.pub}
sublayouts:
  - name: build
    functionaries: [ci, runner]
steps:
  - name: push
    functionaries: [ci]
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
    expected_products: [CREATE referee:image-manifest, DISALLOW *]
slsa: {build: build, hosted: [ci, runner], hardened: [ci]}
`
	s, err := attest.ParseSpec([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	layout, err := s.Layout(func(path string) (*attest.Key, error) { return c.keys[strings.TrimSuffix(path, ".pub")].Key(), nil }, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := layout.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env := c.sign(payload, "owner")
	tar := map[string]attest.HashObj{"app.tar": sha("app")}
	for _, tc := range []struct {
		signer string
		want   slsa.BuildLevel
	}{{"ci", 3}, {"runner", 2}} {
		// The sublayout: one step, compile, that dev performs.
		sub := &attest.Layout{Expires: layout.Expires, Keys: map[string]*attest.Key{c.id("dev"): c.keys["dev"].Key()},
			Steps: []attest.Step{{Name: "compile", Threshold: 1, PubKeys: []string{c.id("dev")}}}}
		sp, err := sub.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		links := []verify.Evidence{
			{Source: "build." + tc.signer + ".link", Envelope: c.sign(sp, tc.signer), StepHint: "build", Sub: []verify.Evidence{c.link("compile", "dev", nil, tar)}},
			c.link("push", "ci", tar, map[string]attest.HashObj{attest.ImageArtifact: {"sha256": image}}),
		}
		r := c.verifyChain(env, links)
		if !r.Verified {
			t.Fatalf("%s: not verified: %+v", tc.signer, r.Failures)
		}
		if res := slsa.Level(layout, r); res.Level != tc.want {
			t.Errorf("sublayout signed by %s: %s, want %s: %+v", tc.signer, res.Level, tc.want, res.Requirements)
		}
	}
}
