package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// TestAttestAndCheckAttestation: referee attest signs a Statement about
// the image and prints its referrer; check --attestation passes on it
// for the key that signed it, fails (exit 1) for another key or once a
// failing statement of the same type is attached too; an encrypted
// cosign key signs with COSIGN_PASSWORD; bad input exits 2 on one line.
func TestAttestAndCheckAttestation(t *testing.T) {
	image, dir := demoImage(t)
	const scanType = "https://example.com/scan/v1"
	clean := filepath.Join(dir, "scan.json")
	bad := filepath.Join(dir, "bad.json")
	for path, body := range map[string]string{clean: `{"critical": 0, "scanner": "x"}`, bad: `{"critical": 2}`} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := filepath.Join(dir, "alice"), filepath.Join(dir, "bob")
	digest := regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)
	if out := mustCLI(t, "attest", image, "--predicate-type", scanType, "--predicate", clean, "--key", alice); !digest.MatchString(out) {
		t.Fatalf("attest printed %q", out)
	}
	checkArgs := func(key string) []string {
		return []string{"check", "--attestation", scanType, "--signed-by", key + ".pub", "--image", image, "--cel", "input.critical == 0"}
	}
	if code, stdout, stderr := referee(t, checkArgs(alice)...); code != cli.ExitOK || !strings.HasPrefix(stdout, "PASS ") {
		t.Fatalf("alice's attestation: exit %d, %q %q", code, stdout, stderr)
	}
	if code, stdout, _ := referee(t, checkArgs(bob)...); code != cli.ExitNotVerified || !strings.Contains(stdout, `no attestation of type "`+scanType) {
		t.Fatalf("bob's key: exit %d, %q", code, stdout)
	}

	// cosign's encrypted key (empty password), as cosign generate-key-pair writes it.
	cosignKey := filepath.Join("..", "attest", "testdata", "cosign", "cosign")
	t.Setenv("COSIGN_PASSWORD", "")
	mustCLI(t, "attest", image, "--predicate-type", scanType, "--predicate", clean, "--key", cosignKey+".key")
	if code, stdout, stderr := referee(t, "check", "--attestation", scanType, "--signed-by", cosignKey+".pub", "--image", image, "--cel", "input.critical == 0"); code != cli.ExitOK {
		t.Fatalf("cosign key's attestation: exit %d, %q %q", code, stdout, stderr)
	}

	mustCLI(t, "attest", image, "--predicate-type", scanType, "--predicate", bad, "--key", alice)
	if code, stdout, _ := referee(t, checkArgs(alice)...); code != cli.ExitNotVerified || !strings.Contains(stdout, "PASS ") || !strings.Contains(stdout, "FAIL ") {
		t.Fatalf("one failing statement: exit %d, %q", code, stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no predicate type", []string{"attest", image, "--predicate", clean, "--key", alice}},
		{"predicate not JSON", []string{"attest", image, "--predicate-type", scanType, "--predicate", filepath.Join(dir, "owner.pub"), "--key", alice}},
		{"predicate type not a URI", []string{"attest", image, "--predicate-type", "scan", "--predicate", clean, "--key", alice}},
		{"public key", []string{"attest", image, "--predicate-type", scanType, "--predicate", clean, "--key", alice + ".pub"}},
		{"link predicate", []string{"attest", image, "--predicate-type", "https://in-toto.io/attestation/link/v0.3", "--predicate", clean, "--key", alice}},
		{"check --attestation without --image", []string{"check", "--attestation", scanType, "--signed-by", alice + ".pub", "--cel", "true"}},
		{"check --signed-by without --attestation", []string{"check", "--signed-by", alice + ".pub", "--cel", "true", clean}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := referee(t, tc.args...)
			if code != cli.ExitError || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "referee: ") {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
		})
	}
}

// TestRunHidesCosignPassword: the password that decrypts a cosign key is
// not in the step command's environment, so the command cannot record it
// in the signed link (which --attach would push to a registry).
func TestRunHidesCosignPassword(t *testing.T) {
	key, err := filepath.Abs(filepath.Join("..", "attest", "testdata", "cosign", "pw.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	t.Setenv("COSIGN_PASSWORD", "s3cret")
	code, stdout, stderr := referee(t, "run", "-n", "leak", "-k", key, "--", "sh", "-c", `echo "pw=[$COSIGN_PASSWORD]"`)
	if code != cli.ExitOK {
		t.Fatalf("run: exit %d, %q %q", code, stdout, stderr)
	}
	links, _ := filepath.Glob("leak.*.link")
	if len(links) != 1 {
		t.Fatalf("links %v", links)
	}
	data, err := os.ReadFile(links[0])
	if err != nil {
		t.Fatal(err)
	}
	shown := mustCLI(t, "link", "show", links[0])
	if strings.Contains(string(data), "s3cret") || strings.Contains(shown, "s3cret") || !strings.Contains(shown, "pw=[]") {
		t.Fatalf("the link records the password or not the command's output:\n%s", shown)
	}
}
