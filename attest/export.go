package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
)

// Key file formats that ExportPublicKey and ExportPrivateKey write.
const (
	// ExportPEM is PKIX PEM for public keys and PKCS#8 PEM for private
	// keys, as `referee keygen` writes them. in-toto-golang reads every key
	// type so; the Python reference reads RSA keys so (-t rsa).
	ExportPEM = "pem"
	// ExportSecuresystemslib is the JSON key format of securesystemslib, as
	// `in-toto-keygen -t ed25519` and `-t ecdsa` write it and the Python
	// reference reads it (-t ed25519, -t ecdsa). See
	// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#421-key-formats.
	ExportSecuresystemslib = "securesystemslib"
)

// ExportPublicKey encodes k as a public key file in format. In
// securesystemslib JSON an ed25519 key's keyval.public is hex and an ecdsa
// key's is PEM; RSA keys are refused in that format, since the Python
// reference reads RSA key files only as PEM. The file's keyid, as referee
// and the Python reference compute it, is k's.
func ExportPublicKey(k *Key, format string) ([]byte, error) {
	return export(k, format, k.MarshalPublicPEM, func() ([]byte, error) {
		// The fields in the order, and with the spacing, of in-toto-keygen
		// (Python's json.dumps); the public file carries no keyid.
		return pyJSON(
			"keytype", k.KeyType,
			"scheme", k.Scheme,
			"keyid_hash_algorithms", k.KeyIDHashAlgorithms,
			"keyval", pyObject{"public", k.KeyVal.Public},
		), nil
	})
}

// ExportPrivateKey encodes s as a private key file in format: PKCS#8 PEM,
// or securesystemslib JSON, where keyval.private is the hex 32-byte seed of
// an ed25519 key and the SEC 1 PEM ("EC PRIVATE KEY") of an ecdsa key, as
// in-toto-keygen writes them. RSA keys are refused in securesystemslib JSON.
func ExportPrivateKey(s *Signer, format string) ([]byte, error) {
	k := s.Key()
	return export(k, format, s.MarshalPrivatePEM, func() ([]byte, error) {
		var private string
		switch p := s.priv.(type) {
		case ed25519.PrivateKey:
			private = hex.EncodeToString(p.Seed())
		case *ecdsa.PrivateKey:
			der, err := x509.MarshalECPrivateKey(p)
			if err != nil {
				return nil, fmt.Errorf("encoding the ecdsa private key: %w", err)
			}
			private = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
		default:
			return nil, fmt.Errorf("%w: %s", ErrUnknownKeyType, k.KeyType)
		}
		keyval := pyObject{"public", k.KeyVal.Public, "private", private}
		if k.KeyType == KeyTypeEd25519 {
			return pyJSON("keytype", k.KeyType, "scheme", k.Scheme, "keyid", k.KeyID,
				"keyid_hash_algorithms", k.KeyIDHashAlgorithms, "keyval", keyval), nil
		}
		// securesystemslib writes an ecdsa key's fields in another order.
		return pyJSON("keytype", k.KeyType, "scheme", k.Scheme, "keyid", k.KeyID,
			"keyval", keyval, "keyid_hash_algorithms", k.KeyIDHashAlgorithms), nil
	})
}

// export writes k in format with pemFile or sslibFile, after the checks
// both exports share: the keyid must survive the file.
func export(k *Key, format string, pemFile, sslibFile func() ([]byte, error)) ([]byte, error) {
	if err := exportable(k); err != nil {
		return nil, err
	}
	switch format {
	case ExportPEM:
		out, err := pemFile()
		if err != nil {
			return nil, err
		}
		if err := samePEMKeyID(k, out); err != nil {
			return nil, err
		}
		return out, nil
	case ExportSecuresystemslib:
		if err := sslibExportable(k); err != nil {
			return nil, err
		}
		return sslibFile()
	}
	return nil, unknownFormat(format)
}

// exportable refuses keys whose keyid would change on export: the Python
// reference hashes every keyid with sha256 and sha512 whatever a JSON file
// says, and a PEM file has no place to say otherwise.
func exportable(k *Key) error {
	if !slices.Equal(k.KeyIDHashAlgorithms, defaultKeyIDHashAlgorithms) {
		return fmt.Errorf("key %s has keyid_hash_algorithms %v: written to a file it would get another keyid (the references hash keyids with %v)",
			k.ShortID(), k.KeyIDHashAlgorithms, defaultKeyIDHashAlgorithms)
	}
	return nil
}

// samePEMKeyID refuses a PEM export whose keyid, as the references compute
// it for a PEM file, is not k's. That happens to an ecdsa key read from
// in-toto-keygen's JSON, whose keyid hashes the PEM with its final newline.
func samePEMKeyID(k *Key, out []byte) error {
	back, err := ParseAnyKey(out)
	if err != nil {
		return fmt.Errorf("reading the exported key back: %w", err)
	}
	if back.KeyID != k.KeyID {
		return fmt.Errorf("key %s would have keyid %s as a PEM file (in-toto-keygen hashed its PEM with a final newline); export it as %s to keep its keyid",
			k.ShortID(), back.ShortID(), ExportSecuresystemslib)
	}
	return nil
}

func sslibExportable(k *Key) error {
	if k.KeyType == KeyTypeRSA {
		return fmt.Errorf("key %s is an RSA key: in-toto reads RSA key files as PEM, not securesystemslib JSON; export it as %s", k.ShortID(), ExportPEM)
	}
	return nil
}

func unknownFormat(format string) error {
	return fmt.Errorf("unknown key file format %q: want %s or %s", format, ExportPEM, ExportSecuresystemslib)
}

// pyObject is a JSON object as alternating names and values, kept in order.
type pyObject []any

// pyJSON writes the object of alternating names and values as Python's
// json.dumps does (", " and ": " separators, non-ASCII escaped), so that an
// exported key file is byte for byte one in-toto-keygen could have written.
func pyJSON(kv ...any) []byte {
	var b bytes.Buffer
	writePy(&b, pyObject(kv))
	return b.Bytes()
}

// writePy writes a pyObject, []string or string.
func writePy(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case pyObject:
		b.WriteByte('{')
		for i := 0; i+1 < len(v); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			writePy(b, v[i])
			b.WriteString(": ")
			writePy(b, v[i+1])
		}
		b.WriteByte('}')
	case []string:
		b.WriteByte('[')
		for i, s := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, s)
		}
		b.WriteByte(']')
	case string:
		writePyString(b, v)
	}
}

// writePyString quotes s as json.dumps does with ensure_ascii: everything
// outside printable ASCII as \uXXXX, but for the short escapes.
func writePyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}
