package attest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"slices"
	"strings"
)

// Keyids come in two generations. Both are the sha256 of canonical JSON of
// the key's public part
// (https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#421-key-formats):
//
//   - in-toto 1.3, in-toto-golang and referee hash keytype, scheme,
//     keyid_hash_algorithms and keyval.public, a PEM value without its
//     final newline (in-toto-keygen's ecdsa JSON keys keep it);
//   - Python in-toto 2.x and later (securesystemslib 1.x,
//     compute_default_keyid) hash keytype, scheme and keyval.public only,
//     and write a PEM value with its final newline.
//
// A key carries the keyid it was listed or loaded under (KeyID) and answers
// to every keyid either generation gives its public value (HasID), so that
// a link signed under one generation's keyid verifies against a layout
// listing the key under the other's. Whatever the keyid, a signature counts
// only if it verifies with the key material, and distinct keys are counted
// by that material, never by keyid.

// computeKeyID returns the keyid of in-toto 1.3 and in-toto-golang: the
// sha256 of the canonical JSON of keytype, scheme, keyid_hash_algorithms
// (the default pair when algs is nil) and keyval.public.
func computeKeyID(keyType, scheme, public string, algs []string) (string, error) {
	if algs == nil {
		algs = defaultKeyIDHashAlgorithms
	}
	list := make([]any, len(algs))
	for i, a := range algs {
		list[i] = a
	}
	return hashKeyObject(map[string]any{
		"keytype":               keyType,
		"scheme":                scheme,
		"keyid_hash_algorithms": list,
		"keyval":                map[string]any{"public": public},
	})
}

// computeCurrentKeyID returns the keyid of Python in-toto 2.x and later
// (securesystemslib 1.x): the sha256 of the canonical JSON of keytype,
// scheme and keyval.public, without keyid_hash_algorithms.
func computeCurrentKeyID(keyType, scheme, public string) (string, error) {
	return hashKeyObject(map[string]any{
		"keytype": keyType,
		"scheme":  scheme,
		"keyval":  map[string]any{"public": public},
	})
}

func hashKeyObject(obj map[string]any) (string, error) {
	b, err := canonicalValue(obj)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// listedIDs are the keyids a key listed with these fields may carry: the
// 1.3 generation's with the listed keyid_hash_algorithms (the default pair
// when none are listed) and the current generation's.
func listedIDs(keyType, scheme, public string, algs []string) ([]string, error) {
	old, err := computeKeyID(keyType, scheme, public, algs)
	if err != nil {
		return nil, err
	}
	cur, err := computeCurrentKeyID(keyType, scheme, public)
	if err != nil {
		return nil, err
	}
	return []string{old, cur}, nil
}

// IDs lists every keyid the key answers to, KeyID first: the keyids of
// both generations (see HasID) for its public value written with and
// without the PEM's final newline, under its scheme and, for an ECDSA key,
// also under the other scheme name the references give its curve
// (in-toto-golang names every ECDSA key ecdsa-sha2-nistp256, securesystemslib
// 1.x names the curve: ecdsa-sha2-nistp384 for P-384). Signing uses KeyID.
func (k *Key) IDs() []string {
	if len(k.ids) == 0 {
		return []string{k.KeyID}
	}
	return slices.Clone(k.ids)
}

// HasID reports whether id is one of the key's keyids (IDs).
func (k *Key) HasID(id string) bool {
	if id == k.KeyID {
		return true
	}
	return slices.Contains(k.ids, id)
}

// CurrentID is the keyid Python in-toto 2.x and later (securesystemslib 1.x)
// compute for the key loaded from its PEM file: no keyid_hash_algorithms,
// the PEM with its final newline, the scheme named after an ECDSA key's
// curve. It names their link files (STEP.<first 8>.link); KeyID is the
// keyid of in-toto 1.3, in-toto-golang and referee.
func (k *Key) CurrentID() string {
	id, err := computeCurrentKeyID(k.KeyType, currentScheme(k), currentPublic(k))
	if err != nil {
		return k.KeyID
	}
	return id
}

// currentScheme is the scheme securesystemslib 1.x gives the key's
// material: for ECDSA the curve's own, otherwise the key's.
func currentScheme(k *Key) string {
	if s := curveScheme(k.pub); s != "" && k.KeyType == KeyTypeECDSA {
		return s
	}
	return k.Scheme
}

// currentPublic is keyval.public as securesystemslib 1.x writes it: PEM
// with its final newline, hex for ed25519.
func currentPublic(k *Key) string {
	if k.KeyType == KeyTypeEd25519 {
		return k.KeyVal.Public
	}
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		return k.KeyVal.Public
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// aliasIDs computes IDs: first the given ids (the key's own), then every
// keyid of both generations over the public encodings and scheme names the
// references use for this key material.
func (k *Key) aliasIDs(own ...string) ([]string, error) {
	publics := []string{k.KeyVal.Public}
	if k.KeyType != KeyTypeEd25519 {
		canonical := currentPublic(k)
		publics = append(publics, strings.TrimSpace(canonical), canonical)
	}
	schemes := []string{k.Scheme}
	if k.KeyType == KeyTypeECDSA {
		schemes = append(schemes, SchemeECDSAP256, curveScheme(k.pub))
	}
	ids := slices.Clone(own)
	add := func(id string) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, scheme := range schemes {
		for _, public := range publics {
			for _, algs := range [][]string{k.KeyIDHashAlgorithms, defaultKeyIDHashAlgorithms} {
				id, err := computeKeyID(k.KeyType, scheme, public, algs)
				if err != nil {
					return nil, err
				}
				add(id)
			}
			id, err := computeCurrentKeyID(k.KeyType, scheme, public)
			if err != nil {
				return nil, err
			}
			add(id)
		}
	}
	return ids, nil
}
