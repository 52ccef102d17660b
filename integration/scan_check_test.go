//go:build integration

package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestScanCheck runs docs/scan-check.sh, the motivating supply chain of
// docs/pipelines.md ("Checking what the scan found"), with the referee built
// by TestMain: clone -> build -> push -> scan with the scan's report and SBOM
// attached, its inspection verify-no-critical-vulns written as a native check
// and as a python3 -c command; each verified from the registry alone, refused
// with a CRITICAL entry, promoted and verified in production, the command one
// only with --run-inspections and never touching the working directory.
func TestScanCheck(t *testing.T) {
	crane := needCrane(t)
	py := tool(t, python)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	script, sh, md := docScript(t, "scan-check.sh")

	// The section of docs/pipelines.md shows the script's layouts: every
	// yaml block there is one of the script's.
	section := regexp.MustCompile(`(?s)\n## Checking what the scan found\n(.*?)\n## `).FindSubmatch(md)
	if section == nil {
		t.Fatal(`docs/pipelines.md has no section "## Checking what the scan found"`)
	}
	inScript := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?s)<<'YAML'\n(.*?\n)YAML\n`).FindAllSubmatch(sh, -1) {
		inScript[string(m[1])] = true
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?\n)```").FindAllSubmatch(section[1], -1)
	if len(blocks) != 2 || len(inScript) != 2 {
		t.Errorf("want 2 layout blocks in the section and 2 in the script, have %d and %d", len(blocks), len(inScript))
	}
	for _, b := range blocks {
		if !inScript[string(b[1])] {
			t.Errorf("docs/pipelines.md's block is not in docs/scan-check.sh:\n%s", b[1])
		}
	}

	// The command inspection runs python3 by name: make it Debian's.
	bin := t.TempDir()
	if err := os.Symlink(py, filepath.Join(bin, "python3")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, script)
	cmd.Env = append(os.Environ(),
		"REFEREE="+refereeBin,
		"PATH="+bin+string(os.PathListSeparator)+filepath.Dir(crane)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TMPDIR="+t.TempDir(),
	)
	cmd.Env = pipelineEnvWithout(cmd.Env, "PIPELINE_KEEP")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("docs/scan-check.sh took %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("bash docs/scan-check.sh: %v\n%s", err, out)
	}
	s := string(out)

	for _, want := range []string{
		"ok: the native layout has no findings",
		"ok: lint names the command inspection (exit 1)",
		"ok: lint finds the unchecked sbom.json (exit 1)",
		"ok: clean image verified from an empty directory (and it is still empty)",
		"ok: image with a CRITICAL entry refused (exit 1)",
		"ok: every attached artifact a verified link records is a material",
		"ok: production copy verifies in full: the report was copied with the evidence",
		"ok: a command inspection needs --run-inspections (exit 1)",
		"ok: clean image verified; the inspection read the attached report, not the decoy",
		"ok: image with a CRITICAL entry refused (exit 1), the clean decoy notwithstanding",
		"ok: promote without --run-inspections refused (exit 1)",
		"ok: production copy verifies in full with --run-inspections: the report was copied",
		"SCAN CHECK OK: every expectation held",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Lines of referee's output, by shape, and how often the script shows
	// them at least.
	for _, c := range []struct {
		re  string
		min int
	}{
		{`(?m)^ok: promoted sha256:[0-9a-f]{64}$`, 2},
		{`(?m)^ok: promote refused the critical image \(exit 1\)$`, 2},
		{`(?m)^ok: production copy verified by the promoter's summary$`, 2},
		{`(?m)^ok: the working directories are untouched \(\d+ lines of listing before, the same after\)$`, 1},
		{`(?m)^\s+command-inspection \(warning\): inspection "verify-no-critical-vulns" runs ` + "`python3 -c ", 1},
		{`(?m)^\s+unconsumed-products \(error\): products sbom\.json of step "scan"`, 1},
		{`(?m)^[├└]── sha256:[0-9a-f]{64} application/vnd\.referee\.artifact\.v1  \(artifact, path vulnerability-report\.json, sha256:[0-9a-f]{64}, \d+ bytes, step scan\)$`, 2},
		{`(?m)^[├└]── sha256:[0-9a-f]{64} application/vnd\.referee\.artifact\.v1  \(artifact, path sbom\.json, sha256:[0-9a-f]{64}, \d+ bytes, step scan\)$`, 2},
		{`(?m)^\s+inspection verify-no-critical-vulns: ok$`, 4},
		{`(?m)^\s+inspection verify-no-critical-vulns: FAILED$`, 7},
		{`(?m)^\s+check file vulnerability-report\.json: passed: .* is true: all 2 elements of input\.Results satisfy it$`, 3},
		{`(?m)^\s+FAIL inspection "verify-no-critical-vulns", artifact "vulnerability-report\.json": .*v\.Severity is "CRITICAL"$`, 2},
		{`(?m)^\s+FAIL inspection "verify-no-critical-vulns", rule "DISALLOW \*": material "sbom\.json" is disallowed`, 1},
		{`(?m)^\s+FAIL inspection "verify-no-critical-vulns": .*referee runs inspection commands only when asked \(--run-inspections\)$`, 2},
		{`(?m)^\s+FAIL inspection "verify-no-critical-vulns": inspection failed: command ` + "`python3 -c '.*'`" + ` exited with 1: CRITICAL CVE-2024-3094$`, 2},
		{`(?m)^\s+verified by a verification summary from promoter [0-9a-f]{8} .*: PASSED at `, 2},
		{`(?m)^\s+not promoted: nothing was copied to 127\.0\.0\.1:\d+/native/app$`, 1},
		{`(?m)^\s+not promoted: nothing was copied to 127\.0\.0\.1:\d+/command/app$`, 2},
	} {
		if got := len(regexp.MustCompile(c.re).FindAllString(s, -1)); got < c.min {
			t.Errorf("output matches %s %d times, want at least %d", c.re, got, c.min)
		}
	}
	if regexp.MustCompile(`(?m)^FAILED: `).MatchString(s) {
		t.Errorf("output has a failed expectation")
	}
	if t.Failed() {
		t.Logf("output:\n%s", s)
	}
}
