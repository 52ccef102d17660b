package attest_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// peers holds keys, layouts and links made by the in-toto references
// (integration/testdata/peers/NOTES.md).
const peers = "../integration/testdata/peers"

func peerFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(peers, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// peerKeyIDs reads DIR/keyids.txt: "FILE ID" or "FILE python=ID golang=ID".
func peerKeyIDs(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(peerFile(t, dir+"/keyids.txt"))), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("%s/keyids.txt: bad line %q", dir, line)
		}
		for _, id := range f[1:] {
			if i := strings.IndexByte(id, '='); i >= 0 {
				id = id[i+1:]
			}
			out[f[0]] = append(out[f[0]], id)
		}
	}
	return out
}

var (
	signerOnce sync.Once
	signers    map[string]*attest.Signer
	signerErr  error
)

// testSigners returns one key of each type; RSA keys are slow to make, so
// they are made once per test binary.
func testSigners(t testing.TB) map[string]*attest.Signer {
	t.Helper()
	signerOnce.Do(func() {
		signers = map[string]*attest.Signer{}
		for _, kt := range []string{attest.KeyTypeEd25519, attest.KeyTypeECDSA, attest.KeyTypeRSA} {
			s, err := attest.GenerateKey(kt)
			if err != nil {
				signerErr = err
				return
			}
			signers[kt] = s
		}
	})
	if signerErr != nil {
		t.Fatal(signerErr)
	}
	return signers
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err is non-nil and its message holds every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}
