//go:build integration

package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
)

// exportCase is one key type exported in the format the Python reference
// reads it in (-t TYPE of in-toto-run and in-toto-verify).
type exportCase struct {
	keyType, format string
	pyPub, pyPriv   string // keyid.py kinds
}

var exportCases = []exportCase{
	{attest.KeyTypeEd25519, attest.ExportSecuresystemslib, "ed25519-json-pub", "ed25519-json-priv"},
	{attest.KeyTypeECDSA, attest.ExportSecuresystemslib, "ecdsa-json-pub", "ecdsa-json-priv"},
	{attest.KeyTypeRSA, attest.ExportPEM, "rsa-pub", "rsa-priv"},
}

// TestKeyExportPython exports keys referee generated with the attest API
// and hands them to the Python reference: it computes referee's keyids for
// the files, verifies a layout and a link referee signed, and signs a link
// with the exported private key that referee verifies.
func TestKeyExportPython(t *testing.T) {
	p := needPython(t)
	for _, tc := range exportCases {
		t.Run(tc.keyType, func(t *testing.T) {
			dir := t.TempDir()
			path := func(n string) string { return filepath.Join(dir, n) }
			owner, alice := genExport(t, tc, path("owner")), genExport(t, tc, path("alice"))

			// 1. Python's keyids of the exported files are referee's.
			ids := pyKeyIDs(t, tc.pyPub+":"+path("owner.pub"), tc.pyPriv+":"+path("owner"), tc.pyPub+":"+path("alice.pub"), tc.pyPriv+":"+path("alice"))
			for i, want := range []string{owner.Key().KeyID, owner.Key().KeyID, alice.Key().KeyID, alice.Key().KeyID} {
				if ids[i] != want {
					t.Errorf("Python keyid %d: %s, referee %s", i, ids[i], want)
				}
			}

			// 2. A layout and the first step's link, signed by referee.
			work := path("work")
			mkdirs(t, work)
			spec, err := attest.ParseSpec([]byte(`expires: 1y
functionaries:
  alice: alice.pub
steps:
  - name: build
    expected_command: [sh, -c, "echo hi > foo.txt"]
    functionaries: [alice]
    expected_products: [CREATE foo.txt, DISALLOW *]
  - name: package
    expected_command: [cp, foo.txt, bar.txt]
    functionaries: [alice]
    expected_materials: [MATCH foo.txt WITH PRODUCTS FROM build, DISALLOW *]
    expected_products: [MATCH foo.txt WITH PRODUCTS FROM build, CREATE bar.txt, DISALLOW *]
`))
			if err != nil {
				t.Fatal(err)
			}
			layout, err := spec.Layout(func(p string) (*attest.Key, error) { return attest.LoadPublicKey(path(p)) }, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			writeSigned(t, path("root.layout"), must1(t, layout.Marshal), owner)
			link, _, err := attest.RunStep(context.Background(), attest.RunOptions{
				StepName: "build", Command: []string{"sh", "-c", "echo hi > foo.txt"},
				Products: []string{"foo.txt"}, Record: attest.RecordOptions{Dir: work},
			})
			if err != nil {
				t.Fatal(err)
			}
			writeSigned(t, filepath.Join(work, attest.LinkFileName("build", alice.Key().KeyID)), must1(t, link.Marshal), alice)

			// 3. Python signs the second step with the exported private key.
			must(t, work, p.run, "-n", "package", "-k", path("alice"), "-t", tc.keyType,
				"-m", "foo.txt", "-p", "foo.txt", "bar.txt", "--", "cp", "foo.txt", "bar.txt")
			pyLink := filepath.Join(work, attest.LinkFileName("package", alice.Key().KeyID))
			env, err := attest.ReadEnvelopeFile(pyLink, attest.DefaultMaxFileSize)
			if err != nil {
				t.Fatalf("Python's link is not named with referee's keyid: %v", err)
			}
			if err := env.VerifyKey(alice.Key()); err != nil {
				t.Fatalf("Python's signature with the exported key: %v", err)
			}

			// 4. Python verifies the whole chain with the exported owner key.
			must(t, work, p.verify, "--layout", path("root.layout"), "--layout-keys", path("owner.pub"), "--key-types", tc.keyType, "--link-dir", ".")
			// It did read referee's link: without it the chain fails.
			if err := os.Remove(filepath.Join(work, attest.LinkFileName("build", alice.Key().KeyID))); err != nil {
				t.Fatal(err)
			}
			expectExit(t, exe(t, work, p.verify, "--layout", path("root.layout"), "--layout-keys", path("owner.pub"), "--key-types", tc.keyType, "--link-dir", "."), 1)
		})
	}
}

// genExport generates a key of tc.keyType, exports it to base and
// base.pub, and returns the signer read back from base.
func genExport(t *testing.T, tc exportCase, base string) *attest.Signer {
	t.Helper()
	s, err := attest.GenerateKey(tc.keyType)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := attest.ExportPrivateKey(s, tc.format)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := attest.ExportPublicKey(s.Key(), tc.format)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, base+".pub", string(pub))
	back, err := attest.LoadSigner(base)
	if err != nil {
		t.Fatal(err)
	}
	k, err := attest.LoadPublicKey(base + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if back.Key().KeyID != s.Key().KeyID || k.KeyID != s.Key().KeyID {
		t.Fatalf("exported keys have keyids %s (private) and %s (public), want %s", back.Key().KeyID, k.KeyID, s.Key().KeyID)
	}
	return back
}

// writeSigned writes payload signed by s as a Metablock, the only form
// the Python reference reads.
func writeSigned(t *testing.T, path string, payload []byte, s *attest.Signer) {
	t.Helper()
	env, err := attest.SignPayload(attest.FormMetablock, payload, s)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(must1(t, env.Marshal)))
}

func must1(t *testing.T, f func() ([]byte, error)) []byte {
	t.Helper()
	b, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeyExportCLIPython is TestKeyExportPython through the command line:
// keys from `referee keygen --type ed25519` (PEM), exported with `referee
// key export --format securesystemslib` (public with --public, and
// private), are what the Python reference reads with -t ed25519: the same
// keyids, in-toto-run signs a step with the exported private key, referee
// verify accepts the chain with that link, and in-toto-verify accepts the
// layout `referee layout create --metablock` signed, with the exported
// owner key. A key in-toto-keygen wrote is exported to PEM with its keyid.
func TestKeyExportCLIPython(t *testing.T) {
	p := needPython(t)
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	for _, n := range []string{"owner", "alice"} {
		must(t, dir, refereeBin, "keygen", "--type", "ed25519", path(n))
	}
	must(t, dir, refereeBin, "key", "export", "--format", "securesystemslib", "--public", path("owner"), "--out", path("owner.pub.json"))
	must(t, dir, refereeBin, "key", "export", "--format", "securesystemslib", path("alice"), "--out", path("alice.json"))
	// stdout, from the public key file.
	pub := must(t, dir, refereeBin, "key", "export", "--format", "securesystemslib", path("alice.pub"))
	writeFile(t, path("alice.pub.json"), pub.stdout)
	if st, err := os.Stat(path("alice.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the exported private key: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	if strings.Contains(readFile(t, path("owner.pub.json")), `"private"`) {
		t.Errorf("--public exported a private part:\n%s", readFile(t, path("owner.pub.json")))
	}

	// Keyids: referee's of PEM and JSON (several files: "KEYID  FILE"),
	// Python's of the JSON.
	files := []string{"owner", "owner.pub", "owner.pub.json", "alice", "alice.pub", "alice.json", "alice.pub.json"}
	var args []string
	for _, f := range files {
		args = append(args, path(f))
	}
	r := must(t, dir, refereeBin, append([]string{"key", "id"}, args...)...)
	ids := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		id, file, ok := strings.Cut(line, "  ")
		if !ok || len(id) != 64 {
			t.Fatalf("referee key id with several files: line %q is not KEYID  FILE\n%s", line, r)
		}
		ids[filepath.Base(file)] = id
	}
	if len(ids) != len(files) {
		t.Fatalf("referee key id printed %d files for %d:\n%s", len(ids), len(files), r)
	}
	ownerID, aliceID := ids["owner"], ids["alice"]
	for _, f := range files {
		want := aliceID
		if strings.HasPrefix(f, "owner") {
			want = ownerID
		}
		if ids[f] != want {
			t.Errorf("referee key id %s = %s, want %s", f, ids[f], want)
		}
	}
	if one := strings.TrimSpace(must(t, dir, refereeBin, "key", "id", path("alice.json")).stdout); one != aliceID {
		t.Errorf("referee key id of one file printed %q, want the bare keyid %s", one, aliceID)
	}
	py := pyKeyIDs(t, "ed25519-json-pub:"+path("owner.pub.json"), "ed25519-json-priv:"+path("alice.json"), "ed25519-json-pub:"+path("alice.pub.json"))
	for i, want := range []string{ownerID, aliceID, aliceID} {
		if py[i] != want {
			t.Errorf("Python keyid %d of the exported files: %s, referee %s", i, py[i], want)
		}
	}

	// The chain: referee signs the layout (Metablock) and build; Python
	// signs package with the exported key.
	spec := specYAML{
		Functionaries: map[string]string{"alice": "alice.pub"},
		Steps: []specStep{
			{Name: "build", Command: "sh -c 'echo hi > foo.txt'", Functionaries: []string{"alice"},
				Products: []string{"CREATE foo.txt", "DISALLOW *"}},
			{Name: "package", Command: "cp foo.txt bar.txt", Functionaries: []string{"alice"},
				Materials: []string{"MATCH foo.txt WITH PRODUCTS FROM build", "DISALLOW *"},
				Products:  []string{"MATCH foo.txt WITH PRODUCTS FROM build", "CREATE bar.txt", "DISALLOW *"}},
		},
	}
	layout := path("root.layout")
	createLayout(t, dir, "layout", spec, layout, true, path("owner"))
	work := path("work")
	mkdirs(t, work)
	must(t, work, refereeBin, "run", "--step-name", "build", "--key", path("alice"), "--metablock", "--out", ".",
		"--products", "foo.txt", "--", "sh", "-c", "echo hi > foo.txt")
	must(t, work, p.run, "-n", "package", "-k", path("alice.json"), "-t", "ed25519",
		"-m", "foo.txt", "-p", "foo.txt", "bar.txt", "--", "cp", "foo.txt", "bar.txt")
	pyLink := filepath.Join(work, attest.LinkFileName("package", aliceID))
	if _, err := os.Stat(pyLink); err != nil {
		t.Fatalf("in-toto-run did not name its link with referee's keyid: %v", err)
	}
	refVerify := func() result {
		return referee(t, work, "verify", "--layout", layout, "--layout-key", path("owner.pub"), "--link-dir", ".")
	}
	pyVerify := func() result {
		return exe(t, work, p.verify, "--layout", layout, "--layout-keys", path("owner.pub.json"), "--key-types", "ed25519", "--link-dir", ".")
	}
	expectExit(t, refVerify(), 0)
	expectExit(t, pyVerify(), 0)
	// Both did read Python's link: without it both refuse.
	if err := os.Rename(pyLink, pyLink+".away"); err != nil {
		t.Fatal(err)
	}
	expectExit(t, refVerify(), 1)
	expectExit(t, pyVerify(), 1)

	// A key in-toto-keygen wrote (securesystemslib JSON) exported to PEM.
	must(t, dir, p.keygen, "-t", "ed25519", "carol")
	must(t, dir, refereeBin, "key", "export", "--format", "pem", path("carol"), "--out", path("carol.pem"))
	must(t, dir, refereeBin, "key", "export", "--format", "pem", "--public", path("carol"), "--out", path("carol.pub.pem"))
	pyCarol := pyKeyIDs(t, "ed25519-json-priv:"+path("carol"), "ed25519-pem:"+path("carol.pem"), "ed25519-pem:"+path("carol.pub.pem"))
	for i, f := range []string{"carol", "carol.pem", "carol.pub.pem"} {
		if got := refereeKeyID(t, path(f)); got != pyCarol[0] || pyCarol[i] != pyCarol[0] {
			t.Errorf("keyid of %s: referee %s, Python %s; in-toto-keygen's key has %s", f, got, pyCarol[i], pyCarol[0])
		}
	}

	// Bad input: exit 2, nothing written.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"--format", "jwk", path("alice")}, "jwk"},
		{"RSA as JSON", []string{"--format", "securesystemslib", path("rsa")}, "PEM"},
		{"output exists", []string{"--out", path("alice.json"), path("alice")}, "exists"},
		{"not a key", []string{layout}, "layout"},
		{"no such file", []string{path("nope")}, "nope"},
	} {
		if tc.name == "RSA as JSON" {
			must(t, dir, refereeBin, "keygen", "--type", "rsa", path("rsa"))
		}
		before := readFile(t, path("alice.json"))
		r := referee(t, dir, append([]string{"key", "export"}, tc.args...)...)
		expectExit(t, r, 2)
		if r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: want nothing on stdout and %q in stderr:\n%s", tc.name, tc.want, r)
		}
		if readFile(t, path("alice.json")) != before {
			t.Errorf("%s: alice.json changed", tc.name)
		}
	}
}
