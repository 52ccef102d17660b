package attest

import (
	"crypto"
	"crypto/ecdh"
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
	"slices"
	"strings"
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
	SchemeECDSAP521       = "ecdsa-sha2-nistp521"
	schemeECDSAP224       = "ecdsa-sha2-nistp224"
	legacyKeyTypeECDSA256 = "ecdsa-sha2-nistp256"
	legacyKeyTypeECDSA384 = "ecdsa-sha2-nistp384"
	legacyKeyTypeECDSA521 = "ecdsa-sha2-nistp521"
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

	pub  crypto.PublicKey
	cert *x509.Certificate
	// ids are the keyids the key answers to, KeyID first (see IDs).
	ids []string
}

// KeyVal holds a key's encoded value: a PEM string for RSA and ECDSA, a hex
// string for ed25519. Certificate is the PEM X.509 certificate the key was
// read from, as in-toto-golang lists a certificate's key in a layout; it is
// not part of the keyid.
type KeyVal struct {
	Public      string `json:"public"`
	Certificate string `json:"certificate,omitempty"`
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

// newKey builds a Key from its encoded fields, parses the public value, and
// gives it the keyid of in-toto 1.3 and in-toto-golang.
func newKey(keyType, scheme, public string, algs []string) (*Key, error) {
	return newKeyListed(keyType, scheme, public, algs, "")
}

// newKeyListed builds a Key as newKey does, under the keyid it was listed
// with when one is given: that keyid must be what either generation's rule
// computes from the fields (see IDs).
func newKeyListed(keyType, scheme, public string, algs []string, listed string) (*Key, error) {
	k := &Key{KeyType: keyType, Scheme: scheme, KeyVal: KeyVal{Public: public}, KeyIDHashAlgorithms: algs}
	if k.KeyIDHashAlgorithms == nil {
		k.KeyIDHashAlgorithms = append([]string(nil), defaultKeyIDHashAlgorithms...)
	}
	if err := k.parsePublic(); err != nil {
		return nil, err
	}
	ids, err := listedIDs(keyType, scheme, public, algs)
	if err != nil {
		return nil, err
	}
	k.KeyID = ids[0]
	if listed != "" {
		if !slices.Contains(ids, listed) {
			return nil, &keyIDMismatchError{listed: listed, ids: ids}
		}
		k.KeyID = listed
	}
	if k.ids, err = k.aliasIDs(k.KeyID); err != nil {
		return nil, err
	}
	return k, nil
}

// keyIDMismatchError says that a listed keyid is neither generation's
// keyid of the key's fields.
type keyIDMismatchError struct {
	listed string
	ids    []string
}

func (e *keyIDMismatchError) Error() string {
	return fmt.Sprintf("keyid %s does not match the key (in-toto 1.3 and in-toto-golang compute %s, current in-toto %s)", e.listed, e.ids[0], e.ids[1])
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
			return fmt.Errorf("keytype rsa but the PEM holds %s", keyKind(pub))
		}
		if rk.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small (2048 at least)", rk.N.BitLen())
		}
		k.pub = rk
		return nil
	case KeyTypeECDSA, legacyKeyTypeECDSA256, legacyKeyTypeECDSA384, legacyKeyTypeECDSA521:
		pub, err := parsePEMPublic(k.KeyVal.Public)
		if err != nil {
			return err
		}
		ek, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("keytype %s but the PEM holds %s", k.KeyType, keyKind(pub))
		}
		if err := checkECDSAScheme(k.KeyType, k.Scheme, ek); err != nil {
			return err
		}
		k.pub = ek
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnknownKeyType, k.KeyType)
}

// ecdsaSchemes are the references' scheme names by curve.
var ecdsaSchemes = map[elliptic.Curve]string{
	elliptic.P224(): schemeECDSAP224,
	elliptic.P256(): SchemeECDSAP256,
	elliptic.P384(): SchemeECDSAP384,
	elliptic.P521(): SchemeECDSAP521,
}

// curveScheme is the scheme named after pub's curve, or "" if pub is no
// ECDSA key on a curve the references read.
func curveScheme(pub crypto.PublicKey) string {
	ek, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return ""
	}
	return ecdsaSchemes[ek.Curve]
}

// checkECDSAScheme accepts an ECDSA key's keytype and scheme as the
// references write them: the scheme named after the key's curve
// (securesystemslib, and in-toto-golang given a scheme), or
// ecdsa-sha2-nistp256 on any curve (in-toto-golang's and
// go-securesystemslib's default for every ECDSA key). Either way the
// signature hash follows the curve, as go-securesystemslib signs and
// verifies: SHA-256 up to P-256, SHA-384 on P-384, SHA-512 on P-521; for a
// key whose scheme names its curve that is also the scheme's hash. A scheme
// naming another curve is refused, since the references would disagree on
// its hash. The legacy keytypes (ecdsa-sha2-nistp256 and so on) must name
// the curve too.
func checkECDSAScheme(keyType, scheme string, ek *ecdsa.PublicKey) error {
	own := ecdsaSchemes[ek.Curve]
	if own == "" {
		return fmt.Errorf("%w: ECDSA key on curve %s (want P-256, P-384 or P-521)", ErrUnknownKeyType, ek.Curve.Params().Name)
	}
	if !slices.Contains([]string{schemeECDSAP224, SchemeECDSAP256, SchemeECDSAP384, SchemeECDSAP521}, scheme) {
		return fmt.Errorf("%w: keytype %q with scheme %q", ErrUnknownKeyType, keyType, scheme)
	}
	if keyType != KeyTypeECDSA && keyType != own {
		return fmt.Errorf("keytype %s but the key is on curve %s (keytype %s or ecdsa)", keyType, ek.Curve.Params().Name, own)
	}
	if scheme != own && (scheme != SchemeECDSAP256 || keyType != KeyTypeECDSA) {
		return fmt.Errorf("scheme %s but the key is on curve %s (scheme %s)", scheme, ek.Curve.Params().Name, own)
	}
	return nil
}

// goReason is the message of an error of Go's x509 parsers without the
// package name it starts with, and for an elliptic curve Go does not read,
// the curves in-toto keys use.
func goReason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "x509: ")
	if strings.Contains(msg, "elliptic curve") {
		msg += " (ECDSA keys must be on P-256, P-384 or P-521)"
	}
	return msg
}

// keyKind names a key's algorithm in words, for messages.
func keyKind(pub any) string {
	switch p := pub.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return "an RSA key"
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "an ed25519 key"
	case *ecdsa.PublicKey:
		return "an ECDSA key on curve " + p.Curve.Params().Name
	case *ecdsa.PrivateKey:
		return "an ECDSA key on curve " + p.Curve.Params().Name
	case *ecdh.PublicKey, *ecdh.PrivateKey:
		return "an X25519 or ECDH key"
	}
	return "a key of a kind in-toto does not use"
}

func parsePEMPublic(s string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("public key is not PEM")
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the PEM public key: %s", goReason(err))
	}
	return pub, nil
}

// Verify checks sig over data with the key's scheme. RSA-PSS accepts any
// salt length (Python signs with the maximum, in-toto-golang with 32 bytes).
func (k *Key) Verify(data, sig []byte) error {
	var ok bool
	switch pub := k.pub.(type) {
	case ed25519.PublicKey:
		ok = verifyEd25519(pub, data, sig)
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

// ecdsaDigest hashes data for an ECDSA signature on curve c as
// go-securesystemslib does (and securesystemslib for the scheme named after
// the curve): SHA-256 up to 256 bits, SHA-384 up to 384, SHA-512 above
// (written in pieces: writeChunked).
func ecdsaDigest(c elliptic.Curve, data []byte) []byte {
	switch bits := c.Params().BitSize; {
	case bits <= 256:
		h := sha256.Sum256(data)
		return h[:]
	case bits <= 384:
		h := sha512.New384()
		writeChunked(h, data)
		return h.Sum(nil)
	}
	h := sha512.New()
	writeChunked(h, data)
	return h.Sum(nil)
}

// KeyFromLayout builds a Key from one value of a layout's "keys" map as it
// arrived (fixed fields: keyid, keytype, scheme, keyid_hash_algorithms,
// keyval with public, private and certificate), and checks that its keyid
// matches the key material by either generation's rule: in-toto 1.3's and
// in-toto-golang's (with keyid_hash_algorithms) or current in-toto's
// (without). A certificate (in-toto-golang) must hold the listed public
// key; see Certificate for what else is checked.
func KeyFromLayout(keyid string, raw json.RawMessage) (*Key, error) {
	if err := CheckJSON(raw, layoutKeySchema); err != nil {
		return nil, fmt.Errorf("key %s: %w", short(keyid), err)
	}
	var j sslibJSONKey
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("key %s: %w", short(keyid), jsonError(err))
	}
	k, err := newKeyListed(j.KeyType, j.Scheme, j.KeyVal.Public, j.KeyIDHashAlgorithms, keyid)
	if mismatch := (*keyIDMismatchError)(nil); errors.As(err, &mismatch) {
		return nil, fmt.Errorf("key listed as %s has keyid %s (as in-toto 1.3 and in-toto-golang compute it) or %s (as current in-toto does)", short(keyid), mismatch.ids[0], mismatch.ids[1])
	}
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", short(keyid), err)
	}
	if j.KeyID != "" && j.KeyID != keyid {
		return nil, fmt.Errorf("key listed as %s says its keyid is %s", short(keyid), j.KeyID)
	}
	if j.KeyVal.Certificate != "" {
		if err := k.setCertificate(j.KeyVal.Certificate); err != nil {
			return nil, fmt.Errorf("key %s: %w", short(keyid), err)
		}
	}
	return k, nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
