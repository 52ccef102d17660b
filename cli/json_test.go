package cli_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// TestJSONInEveryOutcome: with --format json, a command that cannot do
// its work still prints one JSON object, with the error.
func TestJSONInEveryOutcome(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"discover", "127.0.0.1:1/app:v1"},
		{"pull", "127.0.0.1:1/app:v1", "--out", "evidence"},
		{"copy", "127.0.0.1:1/app:v1", "oci-layout:./airgap"},
		{"layout", "show", "nope.layout"},
		{"link", "show", "127.0.0.1:1/app@sha256:" + strings.Repeat("0", 64)},
		{"key", "id", "nope.pub"},
		{"verify", "-l", "nope.layout", "-k", "nope.pub"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			if args[0] != "key" && args[0] != "layout" {
				args = append(args, "--timeout", "2s")
			}
			code, stdout, stderr := referee(t, append(args, "--format", "json")...)
			var j map[string]any
			if code != cli.ExitError || json.Unmarshal([]byte(stdout), &j) != nil || j["error"] == nil {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			checkOneLine(t, stderr)
		})
	}
	if _, err := os.Stat("airgap"); err == nil {
		t.Errorf("a failed copy created the destination layout")
	}
}

// TestInspectionFailureSaysWhy: a failing inspection shows its command as a
// shell writes it, its exit code and the end of its output.
func TestInspectionFailureSaysWhy(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	mustCLI(t, "keygen", "owner")
	mustCLI(t, "keygen", "alice")
	spec := `expires: 1mo
functionaries: {alice: alice.pub}
steps:
  - name: write
    functionaries: [alice]
    expected_products: [ALLOW *]
inspections:
  - name: check-no-critical
    run: [sh, -c, "echo scanned 3 files; echo 'CRITICAL: CVE-2026-1' >&2; exit 3"]
`
	if err := os.WriteFile("layout.yaml", []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "layout", "create", "--spec", "layout.yaml", "-k", "owner")
	mustCLI(t, "run", "-n", "write", "-k", "alice", "--", "true")
	code, stdout, _ := referee(t, "verify", "-l", "root.layout", "-k", "owner.pub", "--run-inspections")
	for _, w := range []string{
		`sh -c 'echo scanned 3 files; echo '\''CRITICAL: CVE-2026-1'\'' >&2; exit 3'`,
		"exited with 3", "scanned 3 files", "CRITICAL: CVE-2026-1",
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("report lacks %q", w)
		}
	}
	if code != cli.ExitNotVerified || strings.Contains(stdout, `["sh"`) {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

// TestJSONForUsageErrors: a mistake on the command line is also one JSON
// object, in the command's own shape.
func TestJSONForUsageErrors(t *testing.T) {
	code, stdout, _ := referee(t, "verify", "localhost:1/app:v1", "--format", "json")
	var j map[string]any
	if code != cli.ExitError || json.Unmarshal([]byte(stdout), &j) != nil || j["verified"] != false || j["error"] == nil {
		t.Fatalf("verify without a key: %d %q", code, stdout)
	}
	code, stdout, _ = referee(t, "promote", "localhost:1/app:v1", "--format", "json")
	if code != cli.ExitError || json.Unmarshal([]byte(stdout), &j) != nil || j["promoted"] != false || j["error"] == nil {
		t.Fatalf("promote without DST: %d %q", code, stdout)
	}
}

// TestJSONIsSafeOnATerminal: what encoding/json leaves raw (DEL, C1 and
// bidi controls) is escaped in every JSON output, without changing values.
func TestJSONIsSafeOnATerminal(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	mustCLI(t, "keygen", "alice")
	path := strings.TrimSpace(mustCLI(t, "run", "-n", "x", "-k", "alice", "--", "echo", "\u009b2J\u202eevil\u007f"))
	out := mustCLI(t, "link", "show", path, "--format", "json")
	if strings.ContainsAny(out, "\u009b\u202e\u007f") {
		t.Fatalf("raw controls in JSON: %q", out)
	}
	var doc struct {
		Document struct{ Command []string } `json:"document"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Document.Command) != 2 || doc.Document.Command[1] != "\u009b2J\u202eevil\u007f" {
		t.Fatalf("value changed: %v %q", err, doc.Document.Command)
	}
}
