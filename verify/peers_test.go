package verify_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// peers holds supply chains made by the in-toto references themselves
// (integration/testdata/peers/regenerate.sh), so their output is checked in
// every `go test` run, without the tools installed.
const peers = "../integration/testdata/peers"

func verifyPeerDir(t *testing.T, dir, layoutFile, ownerKey string) (*verify.Report, error) {
	t.Helper()
	return verifyFiles(t, dir, layoutFile, ownerKey, verify.LoadLinkDir, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

// verifyFiles verifies dir's layoutFile under its ownerKey file with the
// links load reads from dir, as `referee verify --layout … --link-dir …`
// does, at now (zero: the present).
func verifyFiles(t *testing.T, dir, layoutFile, ownerKey string, load func(string) ([]verify.Evidence, error), now time.Time) (*verify.Report, error) {
	t.Helper()
	key, err := attest.LoadPublicKey(filepath.Join(dir, ownerKey))
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.ReadEnvelopeFile(filepath.Join(dir, layoutFile), attest.DefaultMaxFileSize)
	if err != nil {
		t.Fatal(err)
	}
	links, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return verify.Verify(context.Background(), verify.Evidence{Source: layoutFile, Envelope: env}, links,
		verify.Options{LayoutKeys: []*attest.Key{key}, Now: now})
}

func TestPeerSupplyChains(t *testing.T) {
	for _, tc := range []struct{ dir, layout, key string }{
		{"python-rsa", "root.layout", "owner.pub"},
		{"python-ed25519", "root.layout", "owner.pub"},
		{"python-ed25519", "root.layout", "owner.pem.pub"},
		{"python-ed25519", "dsse/root.layout", "owner.pub"},
		{"golang", "root.layout", "owner.pub"},
		{"golang", "root.golang-signed.layout", "owner.pub"},
	} {
		t.Run(tc.dir+"/"+tc.layout, func(t *testing.T) {
			r, err := verifyPeerDir(t, filepath.Join(peers, tc.dir), tc.layout, tc.key)
			if err != nil {
				t.Fatalf("%v\n%+v", err, r)
			}
			if !r.Verified || len(r.Steps) != 2 {
				t.Fatalf("report %+v", r)
			}
		})
	}
}
