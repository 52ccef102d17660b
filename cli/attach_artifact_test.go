package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// TestAttachArtifacts: a file that is not a signed document is attached
// as an artifact (discover shows it, pull writes it back at its path);
// run --attach-products attaches what the step made; a damaged link, a
// key, or a path no link can record is refused on one line with exit 2.
func TestAttachArtifacts(t *testing.T) {
	image, dir := demoImage(t)
	t.Chdir(dir)
	if err := os.WriteFile("vulnerability-report.json", []byte(`{"vulnerabilities":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := referee(t, "attach", image, "vulnerability-report.json")
	if code != cli.ExitOK || !strings.HasPrefix(stdout, "sha256:") || !strings.Contains(stderr, "attached artifact vulnerability-report.json") {
		t.Fatalf("attach: exit %d, %q %q", code, stdout, stderr)
	}
	if _, _, stderr := referee(t, "attach", image, "vulnerability-report.json"); !strings.Contains(stderr, "already attached") {
		t.Errorf("second attach: %q", stderr)
	}
	if code, _, stderr := referee(t, "attach", "--name", "reports/scan.json", image, filepath.Join(dir, "vulnerability-report.json")); code != cli.ExitOK {
		t.Fatalf("--name: exit %d, %q", code, stderr)
	}
	if tree := mustCLI(t, "discover", image); !strings.Contains(tree, "path vulnerability-report.json") || !strings.Contains(tree, "path reports/scan.json") {
		t.Errorf("discover:\n%s", tree)
	}

	// run --attach-products: the step's product, attached with its step.
	code, _, stderr = referee(t, "run", "-n", "scan", "-k", filepath.Join(dir, "bob"), "-p", "sbom.json", "--attach", image, "--attach-products", "--", "sh", "-c", `echo '{"packages":[]}' > sbom.json`)
	if code != cli.ExitOK || !strings.Contains(stderr, "attached artifact sbom.json") {
		t.Fatalf("run --attach-products: exit %d, %q", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "evidence")
	mustCLI(t, "pull", image, "--out", out)
	for _, p := range []string{"vulnerability-report.json", "reports/scan.json", "sbom.json"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Errorf("pull did not write %s: %v", p, err)
		}
	}

	if err := os.WriteFile("damaged.link", []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"!!","signatures":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"damaged link", []string{"attach", image, "damaged.link"}, "damaged.link"},
		{"private key", []string{"attach", image, "alice"}, "alice"},
		{"public key", []string{"attach", image, "alice.pub"}, "alice.pub"},
		{"unnormalised path", []string{"attach", image, "./vulnerability-report.json"}, "--name"},
		{"absolute path", []string{"attach", image, filepath.Join(dir, "vulnerability-report.json")}, "--name"},
		{"--name with two files", []string{"attach", "--name", "x.json", image, "vulnerability-report.json", "sbom.json"}, "one FILE"},
		{"--attach-products without --attach", []string{"run", "-n", "x", "-k", "bob", "--attach-products", "--", "true"}, "--attach"},
		{"--attach-products with --lstrip-paths", []string{"run", "-n", "x", "-k", "bob", "--attach", image, "--attach-products", "--lstrip-paths", "out/", "--", "true"}, "--lstrip-paths"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := referee(t, tc.args...)
			if code != cli.ExitError || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q, want one line with %q", code, stderr, tc.want)
			}
		})
	}
}
