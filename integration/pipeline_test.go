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

// docScript is docs/name, its text, and the text of docs/pipelines.md,
// which shows the script's layouts.
func docScript(t *testing.T, name string) (script string, sh, md []byte) {
	t.Helper()
	script = filepath.Join(repoRoot(t), "docs", name)
	sh, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	md, err = os.ReadFile(filepath.Join(repoRoot(t), "docs", "pipelines.md"))
	if err != nil {
		t.Fatal(err)
	}
	return script, sh, md
}

// TestPipeline runs docs/pipeline.sh, the documented docker-build-style
// pipeline (docs/pipelines.md), with the referee built by TestMain: two
// embedded registries, checkout -> build -> scan -> push, verify, promote
// (twice), the VSA check, and a tampered build refused with nothing copied.
func TestPipeline(t *testing.T) {
	crane := needCrane(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	script, sh, md := docScript(t, "pipeline.sh")

	// docs/pipelines.md shows the script's layout: keep them the same.
	inScript := regexp.MustCompile(`(?s)<<'YAML'\n(.*?\n)YAML\n`).FindSubmatch(sh)
	inDoc := regexp.MustCompile("(?s)```yaml\n(.*?\n)```").FindSubmatch(md)
	if inScript == nil || inDoc == nil {
		t.Fatalf("layout spec not found (script: %v, docs/pipelines.md: %v)", inScript != nil, inDoc != nil)
	}
	if string(inScript[1]) != string(inDoc[1]) {
		t.Errorf("docs/pipelines.md's layout differs from docs/pipeline.sh's:\n%s\n---\n%s", inDoc[1], inScript[1])
	}

	cmd := exec.Command(bash, script)
	cmd.Env = append(os.Environ(),
		"REFEREE="+refereeBin,
		"PATH="+filepath.Dir(crane)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TMPDIR="+t.TempDir(),
	)
	cmd.Env = pipelineEnvWithout(cmd.Env, "PIPELINE_KEEP")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("docs/pipeline.sh took %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("bash docs/pipeline.sh: %v\n%s", err, out)
	}
	s := string(out)

	for _, want := range []string{
		"==> [",
		"PASS: the supply chain verifies",
		"ok: staging image verified",
		"ok: production copy verified by the promoter's summary",
		"ok: second promote added nothing (6 referrers before, the same 6 after)",
		"ok: the scan refuses src/.env",
		"not promoted: nothing was copied to ",
		"ok: promote refused the tampered image (exit 1)",
		"PIPELINE OK: every expectation held",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, re := range []string{
		`(?m)^step scan: FAILED$`,
		`material "app.tar" is disallowed \(not consumed: "MATCH app.tar WITH PRODUCTS FROM build"`,
		`(?m)^ok: production does not have sha256:[0-9a-f]{64}$`,
		`verified by a verification summary from promoter [0-9a-f]{8} .*PASSED`,
		`(?m)^VERIFIED 127\.0\.0\.1:\d+/app:1\.0\.0@sha256:[0-9a-f]{64}$`,
		`(?m)^NOT-VERIFIED 127\.0\.0\.1:\d+/app:1\.0\.0-tampered@sha256:`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("output does not match %s", re)
		}
	}
	if regexp.MustCompile(`(?m)^FAILED: `).MatchString(s) {
		t.Errorf("output has a failed expectation")
	}
	if t.Failed() {
		t.Logf("output:\n%s", s)
	}
}

// pipelineEnvWithout drops the variable name from env.
func pipelineEnvWithout(env []string, name string) []string {
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
