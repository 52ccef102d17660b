package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/referee-dev/referee/attest"
)

// benchKey is the ed25519 key named name, derived from a fixed seed so
// that the workloads (and the links signed with it) are the same on every
// machine and every run.
func benchKey(name string) (*attest.Signer, error) {
	seed := sha256.Sum256([]byte("referee bench key " + name))
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", name, err)
	}
	s, err := attest.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", name, err)
	}
	return s, nil
}

// writeKeyFiles writes dir/NAME (PKCS#8 PEM, which in-toto-golang and
// referee sign with), dir/NAME.pub (PKIX PEM, for in-toto-golang and
// referee) and dir/NAME.json.pub (securesystemslib JSON, which the Python
// reference reads with -t ed25519).
func writeKeyFiles(dir, name string, s *attest.Signer) error {
	priv, err := s.MarshalPrivatePEM()
	if err != nil {
		return fmt.Errorf("key %s: %w", name, err)
	}
	pub, err := attest.ExportPublicKey(s.Key(), attest.ExportPEM)
	if err != nil {
		return fmt.Errorf("key %s: %w", name, err)
	}
	js, err := attest.ExportPublicKey(s.Key(), attest.ExportSecuresystemslib)
	if err != nil {
		return fmt.Errorf("key %s: %w", name, err)
	}
	for file, data := range map[string][]byte{name: priv, name + ".pub": pub, name + ".json.pub": js} {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
