//go:build integration

package integration_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRefereeChain: a supply chain made entirely by referee (keys from
// `referee keygen`, layout from `referee layout create`, links from
// `referee run`) verifies with both references:
//
//   - Metablock (--metablock): in-toto-verify (Python), in-toto-golang and
//     referee all pass. The owner key is RSA because in-toto-verify reads
//     PEM layout keys only as RSA (-t ed25519/ecdsa expect securesystemslib
//     JSON, which referee keygen does not write); functionaries are
//     ed25519, RSA and ECDSA, all of which Python reads from the layout.
//   - DSSE (the default): in-toto-golang and referee pass. The layout holds
//     RSA and ECDSA PEM keys and the links record stdout with newlines, so
//     this also checks that referee's DSSE payloads are plain JSON that
//     in-toto-golang decodes (its own canonical-JSON payloads with raw
//     newlines it cannot; NOTES.md §3). Python has no DSSE: exit 1.
//
// The layout is signed by two owners (RSA and ed25519); the references and
// referee are given both keys where they can read them. Step build has
// threshold 2 (RSA and ECDSA functionaries). Then the final step is re-run
// on a tampered build product, and every verifier refuses.
func TestRefereeChain(t *testing.T) {
	p := needAll(t)
	tmp := t.TempDir()
	keys := filepath.Join(tmp, "keys")
	mkdirs(t, keys)
	key := func(n string) string { return filepath.Join(keys, n) }
	for _, k := range []struct{ name, typ string }{
		{"owner", "rsa"}, {"owner2", "ed25519"}, {"alice", "ed25519"}, {"bob", "rsa"}, {"carol", "ecdsa"},
	} {
		r := referee(t, tmp, "keygen", "--type", k.typ, key(k.name))
		if r.code != 0 || len(firstField(r.stdout)) != 64 {
			t.Fatalf("referee keygen:\n%s", r)
		}
	}
	cmds := map[string][]string{
		"write-code": {"sh", "-c", "mkdir -p src && echo 'print(1)' > src/foo.py && echo wrote src/foo.py && echo to stderr >&2"},
		"build":      {"tar", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", "foo.tar.gz", "src"},
		"package":    {"sh", "-c", "sha256sum foo.tar.gz > foo.tar.gz.sha256 && cat foo.tar.gz.sha256"},
	}
	spec := specYAML{
		Functionaries: map[string]string{"alice": "keys/alice.pub", "bob": "keys/bob.pub", "carol": "keys/carol.pub"},
		Steps: []specStep{
			{Name: "write-code", Command: shellJoin(cmds["write-code"]), Functionaries: []string{"alice"},
				Products: []string{"CREATE src/foo.py", "DISALLOW *"}},
			{Name: "build", Command: shellJoin(cmds["build"]), Threshold: 2, Functionaries: []string{"bob", "carol"},
				Materials: []string{"MATCH src/* WITH PRODUCTS FROM write-code", "DISALLOW *"},
				Products:  []string{"CREATE foo.tar.gz", "ALLOW src/*", "DISALLOW *"}},
			{Name: "package", Command: shellJoin(cmds["package"]), Functionaries: []string{"alice"},
				Materials: []string{"MATCH foo.tar.gz WITH PRODUCTS FROM build", "DISALLOW *"},
				Products: []string{"CREATE foo.tar.gz.sha256", "MATCH foo.tar.gz WITH PRODUCTS FROM build",
					"DISALLOW *"}},
		},
	}

	for _, form := range []string{"metablock", "dsse"} {
		t.Run(form, func(t *testing.T) {
			metablock := form == "metablock"
			work, links := filepath.Join(tmp, "work-"+form), filepath.Join(tmp, "links-"+form)
			mkdirs(t, work, links)
			layout := filepath.Join(tmp, "root."+form+".layout")
			createLayout(t, tmp, "layout-"+form, spec, layout, metablock, key("owner"), key("owner2"))

			run := func(step, signer string, paths ...string) {
				t.Helper()
				args := []string{"run", "--step-name", step, "--key", key(signer), "--out", links}
				if metablock {
					args = append(args, "--metablock")
				}
				args = append(append(args, paths...), "--")
				r := referee(t, work, append(args, cmds[step]...)...)
				if r.code != 0 || !strings.HasSuffix(strings.TrimSpace(r.stdout), ".link") {
					t.Fatalf("referee run:\n%s", r)
				}
			}
			run("write-code", "alice", "--products", "src")
			for _, f := range []string{"bob", "carol"} {
				run("build", f, "--materials", "src", "--products", "src", "--products", "foo.tar.gz")
			}
			run("package", "alice", "--materials", "foo.tar.gz", "--products", "foo.tar.gz", "--products", "foo.tar.gz.sha256")
			if n := len(linkFiles(t, links)); n != 4 {
				t.Fatalf("%d links in %s, want 4", n, links)
			}

			pyVerify := func() result {
				return exe(t, tmp, p.verify, "-l", layout, "-k", key("owner.pub"), "--link-dir", links)
			}
			goVerify := func() result {
				return exe(t, tmp, p.golang, "verify", "-l", layout, "-k", key("owner.pub"), "-k", key("owner2.pub"), "-d", links)
			}
			refVerify := func() result {
				return referee(t, tmp, "verify", "--layout", layout, "--layout-key", key("owner.pub"),
					"--layout-key", key("owner2.pub"), "--link-dir", links)
			}
			if metablock {
				expectExit(t, pyVerify(), 0)
			} else if r := pyVerify(); r.code != 1 || !strings.Contains(r.out(), "Invalid Metadata format") {
				// Recorded fact, not referee's business: Python 1.3.1 reads no DSSE.
				t.Errorf("in-toto-verify on DSSE: expected the known FormatError, got:\n%s", r)
			}
			expectExit(t, goVerify(), 0)
			expectExit(t, refVerify(), 0)

			// Tamper with the build product, then package runs on it.
			writeFile(t, filepath.Join(work, "foo.tar.gz"), "not the tarball build made\n")
			run("package", "alice", "--materials", "foo.tar.gz", "--products", "foo.tar.gz", "--products", "foo.tar.gz.sha256")

			if metablock {
				r := pyVerify()
				expectExit(t, r, 1)
				if !strings.Contains(r.out(), "foo.tar.gz") {
					t.Errorf("in-toto-verify refused for another reason than foo.tar.gz:\n%s", r)
				}
			}
			gr := goVerify()
			expectExit(t, gr, 1)
			if !strings.Contains(gr.out(), "foo.tar.gz") {
				t.Errorf("in-toto-golang refused for another reason than foo.tar.gz:\n%s", gr)
			}
			r := refVerify()
			expectExit(t, r, 1)
			for _, want := range []string{`step "package"`, `"DISALLOW *"`, `"foo.tar.gz"`} {
				if !strings.Contains(r.out(), want) {
					t.Errorf("referee verify output does not mention %s:\n%s", want, r)
				}
			}
		})
	}
}
