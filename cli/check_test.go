package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// TestCheck: `referee check --cel` exits 0 when every file makes the
// expression true, 1 when one makes it false (stdout names the value that
// decided), 2 on an error (one line: a key that is not there, an
// expression that is not a bool, a file that is not JSON or missing).
func TestCheck(t *testing.T) {
	td := filepath.Join("..", "check", "testdata")
	report := filepath.Join(td, "vulnerability-report.json")
	noCritical := `input.vulnerabilities.all(v, v.severity != "CRITICAL")`
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.json")
	if err := os.WriteFile(clean, []byte(`{"vulnerabilities":[{"id":"CVE-1","severity":"LOW"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	notJSON := filepath.Join(dir, "report.txt")
	if err := os.WriteFile(notJSON, []byte("CRITICAL: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	if code, stdout, stderr := referee(t, "check", "--cel", noCritical, clean); code != cli.ExitOK || !strings.HasPrefix(stdout, "PASS ") || stderr != "" {
		t.Fatalf("clean: exit %d, %q %q", code, stdout, stderr)
	}
	code, stdout, stderr := referee(t, "check", "--cel", noCritical, clean, report)
	if code != cli.ExitNotVerified || !strings.Contains(stdout, "FAIL "+report) || !strings.Contains(stdout, "CVE-2024-3094") || !strings.Contains(stderr, "the check is false for "+report+" (of 2 files)") {
		t.Fatalf("critical: exit %d, %q %q", code, stdout, stderr)
	}
	if code, _, stderr := referee(t, "check", "-q", "--cel", noCritical, report); code != cli.ExitNotVerified || stderr != "" {
		t.Fatalf("-q: exit %d, %q", code, stderr)
	}
	code, stdout, _ = referee(t, "check", "--cel", noCritical, "--format", "json", clean, report)
	var got struct {
		Pass   bool
		Checks []struct {
			File   string
			Pass   bool
			Reason string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != cli.ExitNotVerified || got.Pass || len(got.Checks) != 2 || !got.Checks[0].Pass || got.Checks[1].Pass {
		t.Fatalf("json: exit %d, %v, %q", code, err, stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no --cel", []string{"check", clean}, "--cel"},
		{"no file", []string{"check", "--cel", noCritical}, "FILE"},
		{"not a bool", []string{"check", "--cel", "input.vulnerabilities", clean}, "not a bool"},
		{"syntax", []string{"check", "--cel", "input.(", clean}, "CEL"},
		{"no such key", []string{"check", "--cel", "input.Results.size() == 0", clean}, "no such key"},
		{"not JSON", []string{"check", "--cel", noCritical, notJSON}, notJSON},
		{"missing file", []string{"check", "--cel", noCritical, filepath.Join(dir, "missing.json")}, "missing.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := referee(t, tc.args...)
			if code != cli.ExitError || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q, want one line with %q", code, stderr, tc.want)
			}
		})
	}
}
