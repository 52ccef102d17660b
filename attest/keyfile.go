package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
)

// ErrPrivateKey is returned where a public key is wanted and the file holds
// a private key.
var ErrPrivateKey = errors.New("is a private key")

// ErrPublicKey is returned where a private key is wanted and the file holds
// only a public key.
var ErrPublicKey = errors.New("is a public key")

// ParsePublicKey reads a public key file in any form the references write:
// PEM (PKIX or PKCS#1 RSA; RSA, ed25519, or ECDSA on P-256, P-384 or
// P-521), a PEM X.509 certificate (its key, as in-toto-golang reads it; see
// Key.Certificate), or the securesystemslib JSON key that
// `in-toto-keygen -t ed25519` writes. The keyid is in-toto 1.3's and
// in-toto-golang's; Key.CurrentID is current in-toto's. A private key is refused with
// ErrPrivateKey, so that a private key is never handed on (into a layout, to
// a verifier) by mistake; ParseAnyKey takes one.
func ParsePublicKey(data []byte) (*Key, error) {
	if holdsPrivateKey(data) {
		return nil, fmt.Errorf("%w; give the public key", ErrPrivateKey)
	}
	return parsePublic(data)
}

// ParseAnyKey reads a public or a private key file and returns the
// public key, for what only needs the key's identity (`referee key id`).
func ParseAnyKey(data []byte) (*Key, error) {
	if holdsPrivateKey(data) {
		s, err := ParsePrivateKey(data)
		if err != nil {
			return nil, err
		}
		return s.Key(), nil
	}
	return parsePublic(data)
}

func parsePublic(data []byte) (*Key, error) {
	trimmed := bytes.TrimSpace(data)
	if looksJSON(trimmed) {
		k, _, err := parseSSLibJSON(trimmed)
		return k, err
	}
	return parsePEMKey(trimmed)
}

// looksJSON reports whether a key file is JSON rather than PEM.
func looksJSON(trimmed []byte) bool {
	return len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')
}

// holdsPrivateKey reports whether data is a private key file: a PEM private
// key block, or a JSON key with a private part.
func holdsPrivateKey(data []byte) bool {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		var j struct {
			KeyVal struct {
				Private json.RawMessage `json:"private"`
			} `json:"keyval"`
		}
		if json.Unmarshal(trimmed, &j) != nil {
			return false
		}
		p := string(bytes.TrimSpace(j.KeyVal.Private))
		return p != "" && p != "null" && p != `""`
	}
	block, _ := pem.Decode(trimmed)
	return block != nil && strings.HasSuffix(block.Type, "PRIVATE KEY")
}

// parsePEMKey loads a PEM key through go-securesystemslib, so that its keyid
// and encoded public value are byte-for-byte what in-toto-golang computes.
func parsePEMKey(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file or a securesystemslib JSON key")
	}
	if strings.Contains(block.Type, "ENCRYPTED") || block.Headers["Proc-Type"] != "" {
		return nil, errors.New("encrypted private keys are not supported: decrypt it first (openssl pkey -in KEY -out KEY.plain)")
	}
	if block.Type == pemCertificate {
		return certificateKey(data)
	}
	if block.Type == "PUBLIC KEY" {
		// For Go's reason (an unsupported curve, say): go-securesystemslib
		// would only say it cannot read the block.
		if _, err := parsePEMPublic(string(data)); err != nil {
			return nil, err
		}
	}
	if block.Type == "RSA PUBLIC KEY" {
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing RSA public key: %w", err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, err
		}
		data = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	sk, err := signerverifier.LoadKey(data)
	if err != nil {
		return nil, fmt.Errorf("parsing PEM key: %w", err)
	}
	return newKey(sk.KeyType, sk.Scheme, sk.KeyVal.Public, sk.KeyIDHashAlgorithms)
}

// sslibJSONKey is the securesystemslib JSON key file layout.
type sslibJSONKey struct {
	KeyID               string   `json:"keyid"`
	KeyType             string   `json:"keytype"`
	Scheme              string   `json:"scheme"`
	KeyIDHashAlgorithms []string `json:"keyid_hash_algorithms"`
	KeyVal              struct {
		Public      string `json:"public"`
		Private     string `json:"private"`
		Certificate string `json:"certificate"`
	} `json:"keyval"`
}

func parseSSLibJSON(data []byte) (*Key, string, error) {
	v, err := decodeGeneric(data)
	if err != nil {
		return nil, "", err
	}
	if obj, ok := v.(map[string]any); !ok || obj["keytype"] == nil {
		return nil, "", notAKey(v)
	}
	if err := CheckJSON(data, keyFileSchema); err != nil {
		return nil, "", fmt.Errorf("JSON key: %w", err)
	}
	var j sslibJSONKey
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, "", fmt.Errorf("JSON key: %w", jsonError(err))
	}
	if j.KeyType == "" {
		return nil, "", errors.New("JSON key: keytype is empty")
	}
	k, err := newKeyListed(j.KeyType, j.Scheme, j.KeyVal.Public, j.KeyIDHashAlgorithms, j.KeyID)
	if mismatch := (*keyIDMismatchError)(nil); errors.As(err, &mismatch) {
		return nil, "", fmt.Errorf("JSON key: %w", err)
	}
	if err != nil {
		return nil, "", err
	}
	if j.KeyVal.Certificate != "" {
		if err := k.setCertificate(j.KeyVal.Certificate); err != nil {
			return nil, "", fmt.Errorf("JSON key: %w", err)
		}
	}
	return k, j.KeyVal.Private, nil
}

// notAKey says what a JSON document without "keytype" is instead: most
// often a layout or link given where a key belongs.
func notAKey(v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return errors.New("is JSON but not a key file (a key file is a JSON object with a keytype)")
	}
	kindOf := func(x any) string {
		m, _ := x.(map[string]any)
		s, _ := m["_type"].(string)
		return s
	}
	switch {
	case obj["signed"] != nil:
		if kind := kindOf(obj["signed"]); kind != "" {
			return fmt.Errorf("is a signed in-toto %s, not a key file", kind)
		}
		return errors.New("is a signed in-toto document, not a key file")
	case obj["payload"] != nil:
		var payload any
		if s, ok := obj["payload"].(string); ok {
			if b, err := decodeB64(s); err == nil {
				payload, _ = decodeGeneric(b)
			}
		}
		if kind := kindOf(payload); kind != "" {
			return fmt.Errorf("is a signed in-toto %s (DSSE envelope), not a key file", kind)
		}
		return errors.New("is a DSSE envelope, not a key file")
	case kindOf(obj) != "":
		return fmt.Errorf("is an unsigned in-toto %s, not a key file", kindOf(obj))
	}
	return errors.New("is JSON without a keytype, not a key file")
}
