package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// TestLayoutLint: findings exit 1 with rule, step and fix on one line
// each; a clean spec exits 0; --format json lists the findings; layout
// create prints the same findings as warnings and still writes the
// layout; bad input exits 2.
func TestLayoutLint(t *testing.T) {
	clean := filepath.Join("..", "attest", "testdata", "lint", "motivating.yaml")
	command := filepath.Join("..", "attest", "testdata", "lint", "motivating-command.yaml")

	if code, stdout, stderr := referee(t, "layout", "lint", clean); code != cli.ExitOK || stdout != "" {
		t.Fatalf("clean spec: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr := referee(t, "layout", "lint", command)
	if code != cli.ExitNotVerified || !strings.HasPrefix(stdout, "command-inspection (warning): inspection \"verify-no-critical-vulns\"") || !strings.Contains(stdout, "fix: ") || !strings.Contains(stderr, "1 finding") {
		t.Fatalf("command inspection: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = referee(t, "layout", "lint", command, "--format", "json")
	var got struct {
		Source   string `json:"source"`
		Findings []struct{ Rule, Severity, Step, Message, Fix string }
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != cli.ExitNotVerified || len(got.Findings) != 1 || got.Findings[0].Rule != "command-inspection" || got.Findings[0].Step != "verify-no-critical-vulns" || got.Source != command {
		t.Fatalf("json: exit %d, %v, %q", code, err, stdout)
	}

	// layout create: the same finding as a warning, and the layout is written.
	dir := t.TempDir()
	owner := filepath.Join(dir, "owner")
	if code, _, stderr := referee(t, "keygen", owner); code != cli.ExitOK {
		t.Fatalf("keygen: %s", stderr)
	}
	abs, err := filepath.Abs(command)
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "layout.yaml")
	data, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, []byte(strings.ReplaceAll(string(data), "keys/", filepath.Dir(abs)+"/keys/")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "root.layout")
	code, _, stderr = referee(t, "layout", "create", "--spec", spec, "--key", owner, "--out", out)
	if code != cli.ExitOK || !strings.Contains(stderr, "lint: command-inspection (warning)") {
		t.Fatalf("create: exit %d, stderr %q", code, stderr)
	}
	// The signed layout lints the same.
	if code, stdout, _ := referee(t, "layout", "lint", out); code != cli.ExitNotVerified || !strings.HasPrefix(stdout, "command-inspection") {
		t.Fatalf("signed layout: exit %d, %q", code, stdout)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("expires: 1y\nsteps: [{name: a, functionaries: [nobody]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"layout", "lint"},
		{"layout", "lint", filepath.Join(dir, "missing.yaml")},
		{"layout", "lint", bad},
		{"layout", "lint", clean, command},
	} {
		code, _, stderr := referee(t, args...)
		if code != cli.ExitError || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// TestSLSACommand: the demo's layout declares its build step, so its
// verified evidence supports SLSA Build L1 (no hosted platform is
// declared: L2 is not met, with the reason); --format json names the
// level SLSA_BUILD_LEVEL_1; an image whose evidence does not verify exits
// 1; no --layout-key exits 2.
func TestSLSACommand(t *testing.T) {
	image, dir := demoImage(t)
	owner := filepath.Join(dir, "owner.pub")
	code, stdout, stderr := referee(t, "slsa", image, "--layout-key", owner)
	if code != cli.ExitOK || !strings.Contains(stdout, "SLSA_BUILD_LEVEL_1") || !strings.Contains(stdout, "NOT met") {
		t.Fatalf("slsa: exit %d, %q %q", code, stdout, stderr)
	}
	code, stdout, _ = referee(t, "slsa", image, "--layout-key", owner, "--format", "json")
	var got struct {
		Digest string
		SLSA   struct {
			Level        string
			Requirements []struct {
				Requirement string
				Met         bool
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != cli.ExitOK || got.SLSA.Level != "SLSA_BUILD_LEVEL_1" || len(got.SLSA.Requirements) < 2 || !strings.HasSuffix(image, got.Digest) {
		t.Fatalf("json: exit %d, %v, %q", code, err, stdout)
	}
	other := filepath.Join(dir, "alice.pub")
	if code, _, stderr := referee(t, "slsa", image, "--layout-key", other); code != cli.ExitNotVerified || strings.Count(strings.TrimSpace(stderr), "referee:") != 1 {
		t.Fatalf("another layout key: exit %d, %q", code, stderr)
	}
	if code, _, _ := referee(t, "slsa", image); code != cli.ExitError {
		t.Fatalf("no --layout-key: exit %d", code)
	}
}

// TestLintNativeChecks: a native check that can never pass (a malformed
// referee check command, CEL that does not compile, --signed-by naming no
// key) is a lint error and layout create refuses to sign it (exit 2);
// an attestation check is a warning (only referee evaluates it).
func TestLintNativeChecks(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"owner", "dev"} {
		mustCLI(t, "keygen", filepath.Join(dir, k))
	}
	spec := func(run string) string {
		p := filepath.Join(dir, "layout.yaml")
		body := "expires: 1mo\nfunctionaries: {dev: dev.pub}\nsteps:\n  - name: build\n    functionaries: [dev]\n    expected_products: [CREATE report.json, CREATE referee:image-manifest, DISALLOW *]\ninspections:\n  - name: gate\n    run: " + run + "\n    expected_materials: [MATCH report.json WITH PRODUCTS FROM build, DISALLOW *]\n"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, run, rule string
		create          int
	}{
		{"CEL syntax", `referee check --cel 'input.(' report.json`, "check-invalid", cli.ExitError},
		{"unknown flag", `referee check --cel 'true' --strict report.json`, "check-invalid", cli.ExitError},
		{"signed by nobody", `referee check --attestation https://example.com/v1 --signed-by nobody --cel 'true'`, "check-invalid", cli.ExitError},
		{"attestation check", `referee check --attestation https://example.com/v1 --signed-by dev --cel 'input.critical == 0'`, "check-referee-only", cli.ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := spec(tc.run)
			code, stdout, _ := referee(t, "layout", "lint", p)
			if code != cli.ExitNotVerified || !strings.Contains(stdout, tc.rule) {
				t.Errorf("lint: exit %d, %q", code, stdout)
			}
			code, _, stderr := referee(t, "layout", "create", "--spec", p, "--key", filepath.Join(dir, "owner"), "--out", filepath.Join(dir, "root.layout"), "--force")
			if code != tc.create || (code == cli.ExitError && !strings.Contains(stderr, "can never pass")) {
				t.Errorf("create: exit %d, %q", code, stderr)
			}
		})
	}
}
