package attest_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// A key's fingerprint is the SHA-256 of x509's PKIX encoding of its
// public key, for every key type; keys differ, and the same key parsed
// again has the same one.
func TestFingerprintMatchesX509(t *testing.T) {
	seen := map[string]string{}
	for kt, s := range testSigners(t) {
		der, err := x509.MarshalPKIXPublicKey(s.Key().Public())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(der)
		if got, want := s.Key().Fingerprint(), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: fingerprint %s, want %s", kt, got, want)
		}
		pem, err := s.Key().MarshalPublicPEM()
		if err != nil {
			t.Fatal(err)
		}
		again, err := attest.ParsePublicKey(pem)
		if err != nil || again.Fingerprint() != s.Key().Fingerprint() {
			t.Errorf("%s: parsed again, fingerprint %s (%v)", kt, again.Fingerprint(), err)
		}
		if other, ok := seen[s.Key().Fingerprint()]; ok {
			t.Errorf("%s and %s share a fingerprint", kt, other)
		}
		seen[s.Key().Fingerprint()] = kt
	}
	if (*attest.Key)(nil).Fingerprint() != "" {
		t.Error("a nil key has a fingerprint")
	}
}
