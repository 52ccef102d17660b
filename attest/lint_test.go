package attest_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
)

// lintDir holds the lint test specs and their functionaries' keys.
const lintDir = "testdata/lint"

var lintNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func lintKey(path string) (*attest.Key, error) {
	return attest.LoadPublicKey(filepath.Join(lintDir, path))
}

// lintSpec lints a spec written in YAML.
func lintSpec(t *testing.T, yaml string, o attest.LintOptions) []attest.Finding {
	t.Helper()
	s, err := attest.ParseSpec([]byte(yaml))
	if err != nil {
		t.Fatalf("spec: %v\n%s", err, yaml)
	}
	if o.Now.IsZero() {
		o.Now = lintNow
	}
	fs, err := attest.LintSpec(s, lintKey, o)
	if err != nil {
		t.Fatalf("lint: %v\n%s", err, yaml)
	}
	checkFindings(t, fs)
	return fs
}

// checkFindings checks what every finding must be: a known rule and
// severity, one-line message and fix.
func checkFindings(t *testing.T, fs []attest.Finding) {
	t.Helper()
	for _, f := range fs {
		if f.Rule == "" || f.Message == "" || f.Fix == "" {
			t.Errorf("finding with an empty field: %+v", f)
		}
		if f.Severity != attest.SeverityError && f.Severity != attest.SeverityWarning {
			t.Errorf("finding %s: severity %q", f.Rule, f.Severity)
		}
		for _, s := range []string{f.Message, f.Fix, f.String()} {
			if strings.ContainsAny(s, "\n\r") {
				t.Errorf("finding %s is not one line: %q", f.Rule, s)
			}
		}
		for _, word := range []string{"attest.", "Spec", "struct", "[]string"} {
			if strings.Contains(f.Message, word) {
				t.Errorf("finding %s speaks Go (%q): %s", f.Rule, word, f.Message)
			}
		}
	}
}

func hasFinding(fs []attest.Finding, rule, step string) bool {
	return slices.ContainsFunc(fs, func(f attest.Finding) bool { return f.Rule == rule && f.Step == step })
}

func dumpFindings(fs []attest.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

// lintHeader starts the specs of the cases: two functionaries, an expiry
// within a year.
const lintHeader = `expires: 6mo
functionaries:
  dev: keys/dev.pub
  builder: keys/builder.pub
`

// lintBuild is a clone and a build step that binds the image.
const lintBuild = lintHeader + `steps:
  - name: clone
    functionaries: [dev]
    expected_products: [CREATE src/*, DISALLOW *]
  - name: build
    functionaries: [builder]
    expected_materials: [MATCH src/* WITH PRODUCTS FROM clone, DISALLOW *]
    expected_products: [CREATE app.tar, CREATE referee:image-manifest, DISALLOW *]
`

// withPackage adds a last step that uses app.tar with materials rules,
// and an inspection that checks its product.
func withPackage(materials string) string {
	return lintBuild + `  - name: package
    functionaries: [builder]
    expected_materials: ` + materials + `
    expected_products: [CREATE app.tgz, DISALLOW *]
inspections:
  - name: check
    run: referee check --cel 'true' app.tgz
    expected_materials: [MATCH app.tgz WITH PRODUCTS FROM package, DISALLOW *]
`
}

func TestLintRules(t *testing.T) {
	eve, err := lintKey("keys/eve.pub")
	if err != nil {
		t.Fatal(err)
	}
	type spec struct {
		yaml string
		opts attest.LintOptions
	}
	cases := []struct {
		name      string
		rule      string
		step      string
		bad, good spec
	}{
		{"ALLOW * after MATCH (in-toto Python 1.3 accepts a tampered app.tar)", attest.LintMatchThenAllow, "package",
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build, ALLOW *]")},
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW app.tar, ALLOW *]")}},
		{"ALLOW of a pattern that takes the MATCH's path", attest.LintMatchThenAllow, "package",
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build, ALLOW app.*]")},
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build, ALLOW *.txt, DISALLOW *]")}},
		{"a DISALLOW that covers only part of the MATCH", attest.LintMatchThenAllow, "build",
			spec{yaml: strings.Replace(lintBuild, "[MATCH src/* WITH PRODUCTS FROM clone, DISALLOW *]", "[MATCH src/* WITH PRODUCTS FROM clone, DISALLOW src/*.go, ALLOW *]", 1)},
			spec{yaml: strings.Replace(lintBuild, "[MATCH src/* WITH PRODUCTS FROM clone, DISALLOW *]", "[MATCH src/*.go WITH PRODUCTS FROM clone, DISALLOW src/*, ALLOW *]", 1)}},
		{"CREATE after MATCH in products", attest.LintMatchThenAllow, "build",
			spec{yaml: strings.Replace(lintBuild, "[CREATE app.tar, CREATE referee:image-manifest, DISALLOW *]", "[MATCH app.tar WITH PRODUCTS FROM clone, CREATE *]", 1)},
			spec{yaml: strings.Replace(lintBuild, "[CREATE app.tar, CREATE referee:image-manifest, DISALLOW *]", "[MATCH app.tar WITH PRODUCTS FROM clone, DISALLOW app.tar, CREATE *]", 1)}},
		{"MATCH IN prefix, then ALLOW", attest.LintMatchThenAllow, "package",
			spec{yaml: withPackage("[MATCH app.tar IN out WITH PRODUCTS FROM build, ALLOW out/*]")},
			spec{yaml: withPackage("[MATCH app.tar IN out WITH PRODUCTS FROM build, DISALLOW out/*, ALLOW *]")}},

		{"nothing after the MATCH", attest.LintMatchNotEnforced, "package",
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build]")},
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]")}},

		{"a product no step uses", attest.LintUnconsumedProducts, "build",
			spec{yaml: strings.Replace(withPackage("[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]"), "CREATE app.tar, ", "CREATE app.tar, CREATE debug.log, ", 1)},
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]")}},
		{"the last step's products, with no inspection", attest.LintUnconsumedProducts, "build",
			spec{yaml: lintBuild},
			spec{yaml: lintBuild + `inspections:
  - name: check
    run: referee check --cel 'true' app.tar
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
`}},
		{"a sublayout's last step's products are the parent's", attest.LintUnconsumedProducts, "build",
			spec{yaml: lintBuild},
			spec{yaml: lintBuild, opts: attest.LintOptions{Sublayout: true}}},

		{`\ in a pattern`, attest.LintGlobDiffers, "package",
			spec{yaml: withPackage(`[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW app\*]`)},
			spec{yaml: withPackage(`[MATCH app.tar WITH PRODUCTS FROM build, 'DISALLOW app[*]']`)}},
		{"an unclosed [", attest.LintGlobDiffers, "package",
			spec{yaml: withPackage(`[MATCH app.tar WITH PRODUCTS FROM build, 'DISALLOW [ab']`)},
			spec{yaml: withPackage(`[MATCH app.tar WITH PRODUCTS FROM build, 'DISALLOW [[]ab']`)}},
		{"a set starting with ]", attest.LintGlobDiffers, "package",
			spec{yaml: withPackage(`[MATCH app.tar WITH PRODUCTS FROM build, 'DISALLOW []a].c']`)},
			spec{yaml: withPackage(`[MATCH app.tar WITH PRODUCTS FROM build, 'DISALLOW ].c']`)}},
		{"[^…]", attest.LintGlobDiffers, "package",
			spec{yaml: withPackage(`[MATCH app.tar WITH PRODUCTS FROM build, 'DISALLOW [^a]*']`)},
			spec{yaml: withPackage(`[MATCH app.tar WITH PRODUCTS FROM build, 'DISALLOW [!a]*', 'DISALLOW [a^]*']`)}},
		{"MATCH IN prefix", attest.LintGlobDiffers, "package",
			spec{yaml: withPackage(`[MATCH app.tar IN out WITH PRODUCTS FROM build, DISALLOW *]`)},
			spec{yaml: withPackage(`[MATCH out/app.tar WITH PRODUCTS IN out FROM build, DISALLOW *]`)}},

		{"expiry over a year", attest.LintLongExpiry, "",
			spec{yaml: strings.Replace(lintBuild, "expires: 6mo", "expires: 1y1d", 1)},
			spec{yaml: strings.Replace(lintBuild, "expires: 6mo", "expires: 1y", 1)}},

		{"threshold above the functionaries' keys", attest.LintThreshold, "build",
			spec{yaml: strings.Replace(lintBuild, "functionaries: [builder]", "functionaries: [builder, builder]\n    threshold: 2", 1)},
			spec{yaml: strings.Replace(lintBuild, "functionaries: [builder]", "functionaries: [builder, dev]\n    threshold: 2", 1)}},

		{"a functionary no step lists", attest.LintUnusedKey, "",
			spec{yaml: strings.Replace(lintBuild, "functionaries:\n", "functionaries:\n  eve: keys/eve.pub\n", 1)},
			spec{yaml: strings.Replace(lintBuild, "functionaries:\n", "functionaries:\n  eve: keys/eve.pub\n", 1) + `inspections:
  - name: provenance
    run: referee check --attestation https://slsa.dev/provenance/v1 --signed-by ` + eve.KeyID + ` --cel 'true'
  - name: check
    run: referee check --cel 'true' app.tar
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
`}},

		{"a functionary a check names by a short keyid, or by name", attest.LintUnusedKey, "",
			spec{yaml: strings.Replace(lintBuild, "functionaries:\n", "functionaries:\n  eve: keys/eve.pub\n", 1) + `inspections:
  - name: provenance
    run: referee check --attestation https://slsa.dev/provenance/v1 --signed-by=` + eve.KeyID[:7] + ` --cel 'true'
  - name: check
    run: referee check --cel 'true' app.tar
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
`},
			spec{yaml: strings.Replace(lintBuild, "functionaries:\n", "functionaries:\n  eve: keys/eve.pub\n", 1) + `inspections:
  - name: provenance
    run: referee check --attestation https://slsa.dev/provenance/v1 --signed-by=` + eve.KeyID[:8] + ` --cel 'true'
  - name: sbom
    run: [referee, check, --attestation, https://spdx.dev/Document, --signed-by, eve, --cel, 'true']
  - name: check
    run: referee check --cel 'true' app.tar
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
`}},
		{"no step binds the image", attest.LintImageNotBound, "",
			spec{yaml: strings.Replace(lintBuild, "CREATE referee:image-manifest, ", "", 1)},
			spec{yaml: lintBuild}},
		{"a sublayout need not bind the image", attest.LintImageNotBound, "",
			spec{yaml: strings.Replace(lintBuild, "CREATE referee:image-manifest, ", "", 1)},
			spec{yaml: strings.Replace(lintBuild, "CREATE referee:image-manifest, ", "", 1), opts: attest.LintOptions{Sublayout: true}}},

		{"an inspection in a sublayout", attest.LintSublayoutInspection, "check",
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]"), opts: attest.LintOptions{Sublayout: true}},
			spec{yaml: withPackage("[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]")}},

		{"a command inspection", attest.LintCommandInspection, "check",
			spec{yaml: strings.Replace(withPackage("[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]"), "referee check --cel 'true' app.tgz", "tar -tzf app.tgz", 1)},
			spec{yaml: strings.Replace(withPackage("[MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]"), "referee check", "/usr/local/bin/referee check", 1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := lintSpec(t, c.bad.yaml, c.bad.opts)
			if !hasFinding(bad, c.rule, c.step) {
				t.Errorf("no %s finding for %q:%s", c.rule, c.step, dumpFindings(bad))
			}
			good := lintSpec(t, c.good.yaml, c.good.opts)
			if hasFinding(good, c.rule, c.step) {
				t.Errorf("%s finding for %q in the layout written correctly:%s", c.rule, c.step, dumpFindings(good))
			}
		})
	}
}

// The motivating supply chain (clone, build, scan, and an inspection that
// reads the scan's report) lints clean with a native check; with a command
// inspection, the one finding says it needs --run-inspections.
func TestLintMotivatingChain(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"motivating.yaml", nil},
		{"motivating-command.yaml", []string{attest.LintCommandInspection}},
	} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(lintDir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			fs := lintSpec(t, string(data), attest.LintOptions{})
			var got []string
			for _, f := range fs {
				got = append(got, f.Rule)
				if f.Step != "verify-no-critical-vulns" {
					t.Errorf("finding about %q, want the inspection", f.Step)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("rules %q, want %q:%s", got, c.want, dumpFindings(fs))
			}
		})
	}
}

// A threshold Spec.Layout refuses is a finding of LintSpec, not an error,
// and the rest of the spec is still linted.
func TestLintSpecThreshold(t *testing.T) {
	yaml := strings.Replace(lintBuild, "functionaries: [builder]", "functionaries: [builder]\n    threshold: 3", 1)
	s, err := attest.ParseSpec([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Layout(lintKey, lintNow); err == nil {
		t.Fatal("Spec.Layout accepts threshold 3 with one key")
	}
	fs := lintSpec(t, yaml, attest.LintOptions{})
	if !hasFinding(fs, attest.LintThreshold, "build") || !hasFinding(fs, attest.LintUnconsumedProducts, "build") {
		t.Errorf("want the threshold and the rest:%s", dumpFindings(fs))
	}
	if s.Steps[1].Threshold != 3 {
		t.Errorf("LintSpec changed the spec: threshold %d", s.Steps[1].Threshold)
	}
}

// What keeps a spec from becoming a layout, other than a threshold, is an
// error.
func TestLintSpecErrors(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"missing key file", strings.Replace(lintBuild, "keys/dev.pub", "keys/nobody.pub", 1), "nobody.pub"},
		{"unknown functionary", strings.Replace(lintBuild, "[dev]", "[mallory]", 1), `"mallory"`},
		{"expired", strings.Replace(lintBuild, "expires: 6mo", "expires: 2020-01-01T00:00:00Z", 1), "not in the future"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := attest.ParseSpec([]byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			_, err = attest.LintSpec(s, lintKey, attest.LintOptions{Now: lintNow})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming %s", err, c.want)
			}
		})
	}
}

// Lint reads a Layout that was never validated: a threshold above the
// keys, and a key under two keyids counted once; an unused key named by
// its short keyid.
func TestLintLayout(t *testing.T) {
	dev, err := lintKey("keys/dev.pub")
	if err != nil {
		t.Fatal(err)
	}
	eve, err := lintKey("keys/eve.pub")
	if err != nil {
		t.Fatal(err)
	}
	l := &attest.Layout{
		Expires: "2027-03-01T00:00:00Z",
		Keys:    map[string]*attest.Key{dev.KeyID: dev, "alias-of-dev": dev, eve.KeyID: eve},
		Steps: []attest.Step{{
			Name: "build", Threshold: 2, PubKeys: []string{dev.KeyID, "alias-of-dev"},
			ExpectedProducts: [][]string{{"CREATE", attest.ImageArtifact}, {"DISALLOW", "*"}},
		}},
	}
	fs := attest.Lint(l, attest.LintOptions{Now: lintNow})
	checkFindings(t, fs)
	if !hasFinding(fs, attest.LintThreshold, "build") {
		t.Errorf("no threshold finding:%s", dumpFindings(fs))
	}
	var unused []string
	for _, f := range fs {
		if f.Rule == attest.LintUnusedKey {
			unused = append(unused, f.Message)
		}
	}
	if len(unused) != 1 || !strings.Contains(unused[0], attest.ShortKeyID(eve.KeyID)) {
		t.Errorf("unused-key findings %q, want one naming %s", unused, attest.ShortKeyID(eve.KeyID))
	}
	l.Steps[0].Threshold = 1
	l.Keys = map[string]*attest.Key{dev.KeyID: dev}
	l.Steps[0].PubKeys = []string{dev.KeyID}
	if fs := attest.Lint(l, attest.LintOptions{Now: lintNow}); len(fs) != 0 {
		t.Errorf("findings in a clean layout:%s", dumpFindings(fs))
	}
}

// Findings come in layout order (the layout's own first, then steps and
// inspections as listed), the same on every call.
func TestLintOrder(t *testing.T) {
	yaml := strings.NewReplacer(
		"expires: 6mo", "expires: 3y",
		"CREATE referee:image-manifest, ", "",
		"[CREATE src/*, DISALLOW *]", "[CREATE src/*, CREATE notes.txt, DISALLOW *]",
	).Replace(withPackage("[MATCH app.tar WITH PRODUCTS FROM build, ALLOW *]"))
	yaml = strings.Replace(yaml, "referee check --cel 'true' app.tgz", "tar -tzf app.tgz", 1)
	first := lintSpec(t, yaml, attest.LintOptions{})
	for range 20 {
		if again := lintSpec(t, yaml, attest.LintOptions{}); !slices.Equal(first, again) {
			t.Fatalf("order changed:%s\nthen:%s", dumpFindings(first), dumpFindings(again))
		}
	}
	pos := map[string]int{"": 0, "clone": 1, "build": 2, "package": 3, "check": 4}
	last := 0
	for _, f := range first {
		p, ok := pos[f.Step]
		if !ok {
			t.Fatalf("finding about %q", f.Step)
		}
		if p < last {
			t.Errorf("%q after a later one:%s", f.Step, dumpFindings(first))
		}
		last = p
	}
	for _, want := range []struct{ rule, step string }{
		{attest.LintLongExpiry, ""}, {attest.LintImageNotBound, ""}, {attest.LintUnconsumedProducts, "clone"},
		{attest.LintMatchThenAllow, "package"}, {attest.LintCommandInspection, "check"},
	} {
		if !hasFinding(first, want.rule, want.step) {
			t.Errorf("no %s for %q:%s", want.rule, want.step, dumpFindings(first))
		}
	}
}
