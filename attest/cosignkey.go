package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// The PEM block types of an encrypted cosign private key: cosign v2's, and
// older cosign's (github.com/sigstore/cosign/v2/pkg/cosign's
// SigstorePrivateKeyPemType and CosignPrivateKeyPemType).
const (
	sigstorePrivateKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	cosignPrivateKeyPEMType   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// IsCosignPrivateKey reports whether data is an encrypted cosign private
// key (`cosign generate-key-pair`: PEM "ENCRYPTED SIGSTORE PRIVATE KEY",
// or "ENCRYPTED COSIGN PRIVATE KEY" from older cosign), which needs a
// password (ParsePrivateKeyPassword).
func IsCosignPrivateKey(data []byte) bool {
	block, _ := pem.Decode(bytes.TrimSpace(data))
	return block != nil && (block.Type == sigstorePrivateKeyPEMType || block.Type == cosignPrivateKeyPEMType)
}

// ParsePrivateKeyPassword reads a private key file as ParsePrivateKey
// does, and also an encrypted cosign private key (IsCosignPrivateKey),
// decrypted with the password that password returns; it is called only for
// such a key, so that a caller may prompt for it then. A cosign key is an
// in-toto key like any other: its keyid is computed from its public key
// (the PKIX PEM `cosign public-key` prints) as in-toto and in-toto-golang
// compute it, and it signs by its in-toto scheme (ECDSA over the curve's
// hash, as cosign signs; Ed25519 without prehash). cosign's RSA keys are
// refused: cosign signs RSA with PKCS#1 v1.5, which in-toto's RSA scheme
// (RSASSA-PSS) does not verify.
// https://github.com/sigstore/cosign/blob/v2.6.4/specs/SIGNATURE_SPEC.md
//
// The key is decrypted as cosign's own cosign.LoadPrivateKey does it (the
// PEM block's bytes are a go-securesystemslib "encrypted" document, scrypt
// and NaCl secretbox, around a PKCS#8 private key), with the same library,
// but without linking github.com/sigstore/cosign/v2/pkg/cosign: that
// package brings some 400 packages (Rekor, TUF, OpenAPI clients) whose
// initialisation every referee command paid at start, about 8 ms, for
// these ten lines. TestCosignKeyMatchesCosign checks the result against
// cosign.LoadPrivateKey's.
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
	block, _ := pem.Decode(bytes.TrimSpace(data))
	der, err := encrypted.Decrypt(block.Bytes, pw)
	if err != nil {
		return nil, cosignDecryptError(err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("the cosign private key holds no PKCS#8 private key: %s", goReason(err))
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: the cosign private key cannot sign here", ErrUnknownKeyType)
	}
	switch pub := priv.Public().(type) {
	case *rsa.PublicKey:
		return nil, errors.New("cosign RSA keys are not supported: cosign signs RSA with PKCS#1 v1.5, and in-toto's RSA scheme verifies RSASSA-PSS; use an ECDSA key (cosign generate-key-pair)")
	case *ecdsa.PublicKey:
		// The curves cosign (sigstore's signature package) takes.
		if c := pub.Curve; c != elliptic.P256() && c != elliptic.P384() && c != elliptic.P521() {
			return nil, fmt.Errorf("the cosign private key is an ECDSA key on %s, which cosign does not take (P-256, P-384 or P-521)", c.Params().Name)
		}
	}
	s, err := signerFromCrypto(priv)
	if err != nil {
		return nil, fmt.Errorf("the cosign private key: %w", err)
	}
	return s, nil
}

// cosignDecryptError words go-securesystemslib's decryption errors in the
// user's terms.
func cosignDecryptError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "decryption failed") {
		return errors.New("the cosign private key does not decrypt with this password (wrong password)")
	}
	return fmt.Errorf("the cosign private key is damaged: %s", strings.TrimPrefix(msg, "encrypted: "))
}
