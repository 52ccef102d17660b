package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/signature"
)

// IsCosignPrivateKey reports whether data is an encrypted cosign private
// key (`cosign generate-key-pair`: PEM "ENCRYPTED SIGSTORE PRIVATE KEY",
// or "ENCRYPTED COSIGN PRIVATE KEY" from older cosign), which needs a
// password (ParsePrivateKeyPassword).
func IsCosignPrivateKey(data []byte) bool {
	block, _ := pem.Decode(bytes.TrimSpace(data))
	return block != nil && (block.Type == cosign.SigstorePrivateKeyPemType || block.Type == cosign.CosignPrivateKeyPemType)
}

// ParsePrivateKeyPassword reads a private key file as ParsePrivateKey
// does, and also an encrypted cosign private key (IsCosignPrivateKey),
// which github.com/sigstore/cosign/v2's own code decrypts
// (cosign.LoadPrivateKey) with the password that password returns; it is
// called only for such a key, so that a caller may prompt for it then. A
// cosign key is an in-toto key like any other: its keyid is computed from
// its public key (the PKIX PEM `cosign public-key` prints) as in-toto and
// in-toto-golang compute it, and it signs by its in-toto scheme (ECDSA over
// the curve's hash, as cosign signs; Ed25519 without prehash). cosign's
// RSA keys are refused: cosign signs RSA with PKCS#1 v1.5, which in-toto's
// RSA scheme (RSASSA-PSS) does not verify.
// https://github.com/sigstore/cosign/blob/v2.6.4/specs/SIGNATURE_SPEC.md
func ParsePrivateKeyPassword(data []byte, password func() ([]byte, error)) (*Signer, error) {
	if !IsCosignPrivateKey(data) {
		return ParsePrivateKey(data)
	}
	if password == nil {
		return nil, errors.New("the cosign private key is encrypted and no password was given")
	}
	pw, err := password()
	if err != nil {
		return nil, fmt.Errorf("the cosign private key's password: %w", err)
	}
	// No load options: Ed25519 keys sign pure Ed25519, as in-toto verifies
	// (cosign's default, Ed25519ph, is for its transparency log).
	sv, err := cosign.LoadPrivateKey(bytes.TrimSpace(data), pw, &[]signature.LoadOption{})
	if err != nil {
		return nil, cosignKeyError(err)
	}
	priv, ok := sv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: the cosign private key cannot sign here", ErrUnknownKeyType)
	}
	if _, isRSA := priv.Public().(*rsa.PublicKey); isRSA {
		return nil, errors.New("cosign RSA keys are not supported: cosign signs RSA with PKCS#1 v1.5, and in-toto's RSA scheme verifies RSASSA-PSS; use an ECDSA key (cosign generate-key-pair)")
	}
	s, err := signerFromCrypto(priv)
	if err != nil {
		return nil, fmt.Errorf("the cosign private key: %w", err)
	}
	// The signature must verify as the key's in-toto scheme says.
	probe := []byte("referee: cosign key check")
	sig, err := s.Sign(probe)
	if err == nil {
		err = s.Key().Verify(probe, sig)
	}
	if err != nil {
		return nil, fmt.Errorf("the cosign private key does not sign as its in-toto key type %s verifies: %w", s.Key().KeyType, err)
	}
	return s, nil
}

// cosignKeyError words cosign's errors in the user's terms.
func cosignKeyError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "decryption failed"):
		return errors.New("the cosign private key does not decrypt with this password (wrong password)")
	case strings.HasPrefix(msg, "decrypt: "):
		return fmt.Errorf("the cosign private key is damaged: %s", strings.TrimPrefix(strings.TrimPrefix(msg, "decrypt: "), "encrypted: "))
	case strings.HasPrefix(msg, "parsing private key: "):
		return fmt.Errorf("the cosign private key holds no PKCS#8 private key: %s", goReason(errors.Unwrap(err)))
	}
	return fmt.Errorf("the cosign private key: %s", msg)
}

// signOpaque signs data with a private key held by another library's
// signer (a cosign key, decrypted by cosign's code), by its public key's
// in-toto scheme: ECDSA over the curve's hash with an ASN.1 DER signature,
// or pure Ed25519.
func signOpaque(priv crypto.Signer, data []byte) ([]byte, error) {
	switch pub := priv.Public().(type) {
	case *ecdsa.PublicKey:
		hash := crypto.SHA256
		switch bits := pub.Curve.Params().BitSize; {
		case bits > 384:
			hash = crypto.SHA512
		case bits > 256:
			hash = crypto.SHA384
		}
		return priv.Sign(rand.Reader, ecdsaDigest(pub.Curve, data), hash)
	case ed25519.PublicKey:
		return priv.Sign(rand.Reader, data, crypto.Hash(0))
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownKeyType, keyKind(priv))
}
