package attest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/referee-dev/referee/attest"
)

// Lint a layout whose package step MATCHes app.tar from build but then
// allows everything: a tampered app.tar fails the MATCH and passes the
// ALLOW, as in-toto Python 1.3 also accepts it.
func ExampleLint() {
	layout := &attest.Layout{
		Expires: "2027-06-01T00:00:00Z",
		Steps: []attest.Step{
			{Name: "build", Threshold: 1, ExpectedProducts: [][]string{
				{"CREATE", "app.tar"}, {"CREATE", attest.ImageArtifact}, {"DISALLOW", "*"},
			}},
			{Name: "package", Threshold: 1, ExpectedMaterials: [][]string{
				{"MATCH", "app.tar", "WITH", "PRODUCTS", "FROM", "build"}, {"ALLOW", "*"},
			}},
		},
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range attest.Lint(layout, attest.LintOptions{Now: now}) {
		fmt.Printf("%s (%s) in %q\n", f.Rule, f.Severity, f.Step)
		fmt.Println("fix:", f.Fix)
	}
	// Output:
	// match-then-allow (error) in "package"
	// fix: write DISALLOW app.tar right after the MATCH, before ALLOW *
}

// Lint the spec of the motivating supply chain (clone, build, scan) whose
// inspection reads the scan's report with a python3 one-liner: the one
// finding says that verification from a registry runs it only with
// --run-inspections. Written as `referee check --cel …`, the same chain
// (testdata/lint/motivating.yaml) has no findings.
func ExampleLintSpec() {
	dir := filepath.Join("testdata", "lint")
	data, err := os.ReadFile(filepath.Join(dir, "motivating-command.yaml"))
	if err != nil {
		fmt.Println(err)
		return
	}
	spec, err := attest.ParseSpec(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	loadKey := func(path string) (*attest.Key, error) { return attest.LoadPublicKey(filepath.Join(dir, path)) }
	findings, err := attest.LintSpec(spec, loadKey, attest.LintOptions{Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range findings {
		fmt.Printf("%s (%s) in %q\n", f.Rule, f.Severity, f.Step)
	}
	// Output:
	// command-inspection (warning) in "verify-no-critical-vulns"
}
