//go:build integration

package integration_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// pyChainCommands are the commands of the three-step chain the Python
// reference records in TestPythonChain (and their expected_command).
var pyChainCommands = map[string][]string{
	"write-code": {"sh", "-c", "mkdir -p src && echo 'print(1)' > src/foo.py && echo readme > src/README"},
	"build":      {"tar", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", "foo.tar.gz", "src"},
	"checksum":   {"sh", "-c", "sha256sum foo.tar.gz > foo.tar.gz.sha256"},
}

// pyChainLayout is the layout of that chain, for pylayout.py.
func pyChainLayout(out, keyType, owner, alice, bob string) map[string]any {
	cmd := func(step string) string { return shellJoin(pyChainCommands[step]) }
	return map[string]any{
		"out":   out,
		"owner": map[string]string{"path": owner, "type": keyType},
		"functionaries": map[string]any{
			"alice": map[string]string{"path": alice, "type": keyType},
			"bob":   map[string]string{"path": bob, "type": keyType},
		},
		"steps": []map[string]any{
			{"name": "write-code", "command": cmd("write-code"), "functionaries": []string{"alice"},
				"products": []string{"CREATE src/foo.py", "CREATE src/README", "DISALLOW *"}},
			{"name": "build", "command": cmd("build"), "functionaries": []string{"bob"},
				"materials": []string{"MATCH src/* WITH PRODUCTS FROM write-code", "DISALLOW *"},
				"products":  []string{"CREATE foo.tar.gz", "ALLOW src/*", "DISALLOW *"}},
			{"name": "checksum", "command": cmd("checksum"), "functionaries": []string{"alice"},
				"materials": []string{"MATCH foo.tar.gz WITH PRODUCTS FROM build", "DISALLOW *"},
				"products": []string{"CREATE foo.tar.gz.sha256", "MATCH foo.tar.gz WITH PRODUCTS FROM build",
					"DISALLOW *"}},
		},
	}
}

// TestPythonChain: a supply chain made entirely by the Python reference
// (in-toto-keygen, a layout from its API, links from in-toto-run), with RSA
// PEM keys and with ed25519 and ECDSA securesystemslib-JSON keys (whose
// keyids hash the PEM with its trailing newline, NOTES.md §1), verifies with
// `referee verify`; after the build step is re-run on a tampered source
// file, in-toto-verify and referee both refuse it, and referee names the
// step, the rule and the artifact.
func TestPythonChain(t *testing.T) {
	p := needPython(t)
	for _, keyType := range []string{"rsa", "ed25519", "ecdsa"} {
		t.Run(keyType, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			keys, work, links := filepath.Join(tmp, "keys"), filepath.Join(tmp, "work"), filepath.Join(tmp, "links")
			mkdirs(t, keys, work, links)
			for _, k := range []string{"owner", "alice", "bob"} {
				args := []string{"-t", keyType}
				if keyType == "rsa" {
					args = append(args, "-b", "2048")
				}
				must(t, keys, p.keygen, append(args, k)...)
			}
			key := func(n string) string { return filepath.Join(keys, n) }
			layout := filepath.Join(tmp, "root.layout")
			spec := pyChainLayout(layout, keyType, key("owner"), key("alice.pub"), key("bob.pub"))
			specJSON, _ := json.Marshal(spec)
			writeFile(t, filepath.Join(tmp, "layout.json"), string(specJSON))
			must(t, "", python, filepath.Join(confDir, "pylayout.py"), filepath.Join(tmp, "layout.json"))

			inTotoRun := func(step, signer string, paths ...string) {
				t.Helper()
				args := []string{"-t", keyType, "-n", step, "-k", key(signer), "-d", links}
				args = append(args, paths...)
				args = append(args, "--")
				must(t, work, p.run, append(args, pyChainCommands[step]...)...)
			}
			runBuild := func() {
				inTotoRun("build", "bob", "-m", "src", "-p", "src", "foo.tar.gz")
				inTotoRun("checksum", "alice", "-m", "foo.tar.gz", "-p", "foo.tar.gz", "foo.tar.gz.sha256")
			}
			inTotoRun("write-code", "alice", "-p", "src")
			runBuild()
			if n := len(linkFiles(t, links)); n != 3 {
				t.Fatalf("in-toto-run wrote %d links, want 3", n)
			}

			pyVerify := func() result {
				return exe(t, tmp, p.verify, "-l", layout, "-k", key("owner.pub"), "-t", keyType, "--link-dir", links)
			}
			refVerify := func(format string) result {
				return referee(t, tmp, "verify", "--layout", layout, "--layout-key", key("owner.pub"),
					"--link-dir", links, "--format", format)
			}
			expectExit(t, pyVerify(), 0)
			r := refVerify("text")
			expectExit(t, r, 0)
			if !strings.Contains(r.stdout, "PASS") {
				t.Errorf("referee verify passed without saying PASS:\n%s", r)
			}

			// Tamper: change a product of write-code, then build (and
			// checksum) run again on it.
			writeFile(t, filepath.Join(work, "src", "foo.py"), "print('evil')\n")
			runBuild()

			pr := pyVerify()
			expectExit(t, pr, 1)
			if !strings.Contains(pr.out(), "src/foo.py") {
				t.Errorf("in-toto-verify refused for another reason than src/foo.py:\n%s", pr)
			}
			r = refVerify("text")
			expectExit(t, r, 1)
			for _, want := range []string{`step "build"`, `"DISALLOW *"`, `"src/foo.py"`, "NOT VERIFIED"} {
				if !strings.Contains(r.out(), want) {
					t.Errorf("referee verify output does not mention %s:\n%s", want, r)
				}
			}
			r = refVerify("json")
			expectExit(t, r, 1)
			var rep struct {
				Verified bool
				Failures []struct{ Step, Rule, Artifact string }
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("--format json: %v\n%s", err, r)
			}
			if rep.Verified || len(rep.Failures) == 0 {
				t.Fatalf("json report: %s", r.stdout)
			}
			f := rep.Failures[0]
			if f.Step != "build" || f.Rule != "DISALLOW *" || f.Artifact != "src/foo.py" {
				t.Errorf("first failure = step %q rule %q artifact %q, want build / DISALLOW * / src/foo.py\n%s",
					f.Step, f.Rule, f.Artifact, r.stdout)
			}
		})
	}
}
