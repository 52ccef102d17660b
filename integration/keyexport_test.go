//go:build integration

package integration_test

import (
	"context"
	"os"
	"path/filepath"
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
