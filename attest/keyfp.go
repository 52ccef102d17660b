package attest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
)

// ed25519SPKIPrefix is what a PKIX (SubjectPublicKeyInfo) DER encoding of
// an Ed25519 public key puts before its 32 bytes (RFC 8410, section 4).
var ed25519SPKIPrefix = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}

// Fingerprint identifies the key by its material, whatever PEM text,
// certificate or keyid the key came with: the SHA-256 of its public key's
// PKIX DER encoding, in hex, or "" for a key without one. One key listed
// under two keyids (either in-toto generation's) has one fingerprint. For
// Ed25519 the encoding is written here, without x509's reflection: the
// signature memo asks for it at every check (TestFingerprintMatchesX509).
func (k *Key) Fingerprint() string {
	if k == nil || k.pub == nil {
		return ""
	}
	var sum [sha256.Size]byte
	if pub, ok := k.pub.(ed25519.PublicKey); ok && len(pub) == ed25519.PublicKeySize {
		h := sha256.New()
		h.Write(ed25519SPKIPrefix)
		h.Write(pub)
		h.Sum(sum[:0])
	} else {
		der, err := x509.MarshalPKIXPublicKey(k.pub)
		if err != nil {
			return ""
		}
		sum = sha256.Sum256(der)
	}
	return hex.EncodeToString(sum[:])
}
