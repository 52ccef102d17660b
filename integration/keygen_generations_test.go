//go:build integration

package integration_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// ingolangKeys is in-toto-golang's own test data, copied into attest.
const ingolangKeys = "../attest/testdata/ingolang"

// TestInTotoGolangCurvesAndCertificate: for in-toto-golang's ECDSA keys on
// P-224, P-384 and P-521 and its X.509 certificate, `referee key id` prints
// the keyid `in-toto-golang key id` prints; links referee signs with the
// P-384 and P-521 private keys verify with in-toto-golang
// (`in-toto sign --verify`), so the signature hash follows the curve as
// in-toto-golang expects.
func TestInTotoGolangCurvesAndCertificate(t *testing.T) {
	golang := tool(t, "in-toto-golang")
	for _, f := range []string{"heidi.pub", "grace.pub", "frank.pub", "grace", "frank", "example.com.write-code.cert.pem"} {
		path, err := filepath.Abs(filepath.Join(ingolangKeys, f))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSpace(must(t, "", golang, "key", "id", path).stdout)
		if got := refereeKeyID(t, path); got != want {
			t.Errorf("%s: referee key id %s, in-toto-golang %s", f, got, want)
		}
	}
	for _, key := range []string{"grace", "frank"} {
		t.Run(key, func(t *testing.T) {
			work, links := t.TempDir(), t.TempDir()
			priv, _ := filepath.Abs(filepath.Join(ingolangKeys, key))
			pub := priv + ".pub"
			writeFile(t, filepath.Join(work, "foo.txt"), "foo\n")
			r := referee(t, work, "run", "--step-name", "build", "--key", priv, "--out", links, "--products", "foo.txt", "--metablock", "--", "true")
			if r.code != 0 {
				t.Fatalf("referee run:\n%s", r)
			}
			files := linkFiles(t, links)
			if len(files) != 1 {
				t.Fatalf("links %v", files)
			}
			link := files[0]
			if v := exe(t, work, golang, "sign", "--verify", "-f", link, "-k", pub); v.code != 0 {
				t.Fatalf("in-toto-golang refuses referee's signature:\n%s", v)
			}
			// And a link of another key's file does not verify with this key.
			other := map[string]string{"grace": "frank.pub", "frank": "grace.pub"}[key]
			otherPub, _ := filepath.Abs(filepath.Join(ingolangKeys, other))
			if v := exe(t, work, golang, "sign", "--verify", "-f", link, "-k", otherPub); v.code == 0 {
				t.Fatalf("in-toto-golang took the signature for %s's:\n%s", other, v)
			}
			if !strings.HasPrefix(filepath.Base(link), "build."+refereeKeyID(t, pub)[:8]) {
				t.Errorf("link file %s is not named by the key's keyid", link)
			}
		})
	}
}
