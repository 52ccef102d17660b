package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Key types and signature schemes of the securesystemslib key format that
// both in-toto references use. See
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#421-key-formats.
const (
	KeyTypeRSA     = "rsa"
	KeyTypeEd25519 = "ed25519"
	KeyTypeECDSA   = "ecdsa"

	SchemeRSAPSSSHA256    = "rsassa-pss-sha256"
	SchemeEd25519         = "ed25519"
	SchemeECDSAP256       = "ecdsa-sha2-nistp256"
	SchemeECDSAP384       = "ecdsa-sha2-nistp384"
	legacyKeyTypeECDSA256 = "ecdsa-sha2-nistp256"
	legacyKeyTypeECDSA384 = "ecdsa-sha2-nistp384"
)

// defaultKeyIDHashAlgorithms is what both references put in every key they
// write and hash into its keyid.
var defaultKeyIDHashAlgorithms = []string{"sha256", "sha512"}

// ErrUnknownKeyType is returned for a key whose keytype or scheme referee
// cannot verify.
var ErrUnknownKeyType = errors.New("unknown key type")

// Key is a public key in the securesystemslib form that in-toto layouts carry
// in their "keys" map. See
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#421-key-formats.
type Key struct {
	KeyID               string   `json:"keyid"`
	KeyType             string   `json:"keytype"`
	Scheme              string   `json:"scheme"`
	KeyIDHashAlgorithms []string `json:"keyid_hash_algorithms"`
	KeyVal              KeyVal   `json:"keyval"`

	pub crypto.PublicKey
}

// KeyVal holds a key's encoded value: a PEM string for RSA and ECDSA, a hex
// string for ed25519.
type KeyVal struct {
	Public string `json:"public"`
}

// ShortID is the first eight characters of the keyid, as used in link file
// names (STEP.KEYID8.link).
func (k *Key) ShortID() string {
	if len(k.KeyID) < 8 {
		return k.KeyID
	}
	return k.KeyID[:8]
}

// Public returns the key as a crypto.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// computeKeyID returns the securesystemslib keyid: the sha256 of the
// canonical JSON of keytype, scheme, keyid_hash_algorithms and keyval.public.
func computeKeyID(keyType, scheme, public string, algs []string) (string, error) {
	if algs == nil {
		algs = defaultKeyIDHashAlgorithms
	}
	list := make([]any, len(algs))
	for i, a := range algs {
		list[i] = a
	}
	obj := map[string]any{
		"keytype":               keyType,
		"scheme":                scheme,
		"keyid_hash_algorithms": list,
		"keyval":                map[string]any{"public": public},
	}
	b, err := canonicalValue(obj)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// newKey builds a Key from its encoded fields, parses the public value, and
// computes the keyid.
func newKey(keyType, scheme, public string, algs []string) (*Key, error) {
	k := &Key{KeyType: keyType, Scheme: scheme, KeyVal: KeyVal{Public: public}, KeyIDHashAlgorithms: algs}
	if k.KeyIDHashAlgorithms == nil {
		k.KeyIDHashAlgorithms = append([]string(nil), defaultKeyIDHashAlgorithms...)
	}
	if err := k.parsePublic(); err != nil {
		return nil, err
	}
	id, err := computeKeyID(keyType, scheme, public, k.KeyIDHashAlgorithms)
	if err != nil {
		return nil, err
	}
	k.KeyID = id
	return k, nil
}

// parsePublic decodes KeyVal.Public according to KeyType and Scheme and
// checks that the two agree.
func (k *Key) parsePublic() error {
	switch k.KeyType {
	case KeyTypeEd25519:
		if k.Scheme != SchemeEd25519 {
			return fmt.Errorf("%w: keytype %q with scheme %q", ErrUnknownKeyType, k.KeyType, k.Scheme)
		}
		raw, err := hex.DecodeString(k.KeyVal.Public)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return errors.New("ed25519 public key is not 32 hex-encoded bytes")
		}
		k.pub = ed25519.PublicKey(raw)
		return nil
	case KeyTypeRSA:
		if k.Scheme != SchemeRSAPSSSHA256 {
			return fmt.Errorf("%w: keytype %q with scheme %q", ErrUnknownKeyType, k.KeyType, k.Scheme)
		}
		pub, err := parsePEMPublic(k.KeyVal.Public)
		if err != nil {
			return err
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("keytype rsa but the PEM holds a %T", pub)
		}
		if rk.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small (2048 at least)", rk.N.BitLen())
		}
		k.pub = rk
		return nil
	case KeyTypeECDSA, legacyKeyTypeECDSA256, legacyKeyTypeECDSA384:
		pub, err := parsePEMPublic(k.KeyVal.Public)
		if err != nil {
			return err
		}
		ek, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("keytype %s but the PEM holds a %T", k.KeyType, pub)
		}
		want := map[string]elliptic.Curve{SchemeECDSAP256: elliptic.P256(), SchemeECDSAP384: elliptic.P384()}[k.Scheme]
		if want == nil {
			return fmt.Errorf("%w: keytype %q with scheme %q", ErrUnknownKeyType, k.KeyType, k.Scheme)
		}
		if ek.Curve != want {
			return fmt.Errorf("scheme %s but the key is on curve %s", k.Scheme, ek.Curve.Params().Name)
		}
		k.pub = ek
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnknownKeyType, k.KeyType)
}

func parsePEMPublic(s string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("public key is not PEM")
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
}

// Verify checks sig over data with the key's scheme. RSA-PSS accepts any
// salt length (Python signs with the maximum, in-toto-golang with 32 bytes).
func (k *Key) Verify(data, sig []byte) error {
	var ok bool
	switch pub := k.pub.(type) {
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, data, sig)
	case *rsa.PublicKey:
		h := sha256.Sum256(data)
		ok = rsa.VerifyPSS(pub, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, ecdsaDigest(pub.Curve, data), sig)
	default:
		return fmt.Errorf("%w: %q", ErrUnknownKeyType, k.KeyType)
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

func ecdsaDigest(c elliptic.Curve, data []byte) []byte {
	if c == elliptic.P384() {
		h := sha512.Sum384(data)
		return h[:]
	}
	h := sha256.Sum256(data)
	return h[:]
}

// KeyFromLayout builds a Key from one value of a layout's "keys" map as it
// arrived (fixed fields: keyid, keytype, scheme, keyid_hash_algorithms,
// keyval with public and private), and checks that its keyid matches the
// key material.
func KeyFromLayout(keyid string, raw json.RawMessage) (*Key, error) {
	if err := CheckJSON(raw, layoutKeySchema); err != nil {
		return nil, fmt.Errorf("key %s: %w", short(keyid), err)
	}
	var j sslibJSONKey
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("key %s: %w", short(keyid), jsonError(err))
	}
	k, err := newKey(j.KeyType, j.Scheme, j.KeyVal.Public, j.KeyIDHashAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", short(keyid), err)
	}
	if k.KeyID != keyid {
		return nil, fmt.Errorf("key listed as %s has keyid %s", short(keyid), k.KeyID)
	}
	if j.KeyID != "" && j.KeyID != keyid {
		return nil, fmt.Errorf("key listed as %s says its keyid is %s", short(keyid), j.KeyID)
	}
	return k, nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
