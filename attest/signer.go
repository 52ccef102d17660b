package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signer is a private key that signs in-toto metadata with its
// securesystemslib scheme.
type Signer struct {
	key  *Key
	priv crypto.Signer
}

// Key returns the signer's public key.
func (s *Signer) Key() *Key { return s.key }

// Sign signs data with the key's scheme: ed25519, RSASSA-PSS with SHA-256
// and a 32-byte salt (what in-toto-golang verifies strictly), or ECDSA over
// the curve's hash (SHA-256, SHA-384 on P-384, SHA-512 on P-521) with an
// ASN.1 DER signature.
func (s *Signer) Sign(data []byte) ([]byte, error) {
	switch p := s.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(p, data), nil
	case *rsa.PrivateKey:
		h := sha256.Sum256(data)
		return rsa.SignPSS(rand.Reader, p, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: sha256.Size, Hash: crypto.SHA256})
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, p, ecdsaDigest(p.Curve, data))
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownKeyType, keyKind(s.priv))
}

// GenerateKey makes a new key pair of keyType: "ed25519" (the default when
// empty), "ecdsa" (P-256) or "rsa" (3072 bits, as in-toto-keygen).
func GenerateKey(keyType string) (*Signer, error) {
	var priv crypto.Signer
	var err error
	switch keyType {
	case "", KeyTypeEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case KeyTypeECDSA:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyTypeRSA:
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, fmt.Errorf("%w %q: want ed25519, ecdsa or rsa", ErrUnknownKeyType, keyType)
	}
	if err != nil {
		return nil, err
	}
	return signerFromCrypto(priv)
}

func signerFromCrypto(priv crypto.Signer) (*Signer, error) {
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	key, err := parsePEMKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, priv: priv}, nil
}

// MarshalPrivatePEM encodes the private key as PKCS#8 PEM.
func (s *Signer) MarshalPrivatePEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicPEM encodes the key as PKIX PEM.
func (k *Key) MarshalPublicPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a private key file: PEM (PKCS#8, PKCS#1 RSA, SEC 1
// EC) or the securesystemslib JSON key with a private part that
// `in-toto-keygen -t ed25519` and `-t ecdsa` write. A JSON key keeps the
// keyid of its file: in-toto-keygen hashes an ecdsa key's PEM with its
// final newline, which the PEM form trims.
func ParsePrivateKey(data []byte) (*Signer, error) {
	trimmed := bytes.TrimSpace(data)
	if !looksJSON(trimmed) {
		priv, err := parsePEMPrivate(trimmed)
		if err != nil {
			return nil, err
		}
		return signerFromCrypto(priv)
	}
	key, private, err := parseSSLibJSON(trimmed)
	if err != nil {
		return nil, err
	}
	if private == "" {
		return nil, fmt.Errorf("%w (its keyval has no private part); give the private key", ErrPublicKey)
	}
	var priv crypto.Signer
	if key.KeyType == KeyTypeEd25519 {
		raw, err := hex.DecodeString(private)
		if err != nil {
			return nil, errors.New("ed25519 private key is not hex")
		}
		switch len(raw) {
		case ed25519.SeedSize:
			priv = ed25519.NewKeyFromSeed(raw)
		case ed25519.PrivateKeySize:
			priv = ed25519.PrivateKey(raw)
		default:
			return nil, fmt.Errorf("ed25519 private key has %d bytes", len(raw))
		}
	} else if priv, err = parsePEMPrivate([]byte(private)); err != nil {
		return nil, err
	}
	if pub, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.pub) {
		return nil, fmt.Errorf("%s private key does not match its public key", key.KeyType)
	}
	return &Signer{key: key, priv: priv}, nil
}

// parsePEMPrivate reads an unencrypted PEM private key.
func parsePEMPrivate(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file or a securesystemslib JSON key")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return nil, errors.New("encrypted private keys are not supported: decrypt it first (openssl pkey -in KEY -out KEY.plain)")
	}
	var parsed any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("%w; give the private key", ErrPublicKey)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %s", goReason(err))
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: the file holds %s", ErrUnknownKeyType, keyKind(parsed))
	}
	return priv, nil
}
