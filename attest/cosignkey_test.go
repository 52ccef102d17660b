package attest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/referee-dev/referee/attest"
)

// testdata/cosign holds keys written by `cosign generate-key-pair` (cosign
// v2.6.5): cosign.key with the empty password, pw.key with "s3cret", and
// other.pub of a third pair. The keyids are in-toto-golang v0.11.0's
// (Key.LoadKeyDefaults on the .pub) and current in-toto's.
const (
	cosignKeyID        = "7a657f268d28c81697384c9805f431e26a9a398136a7f993330d366fd0b9fadf"
	cosignCurrentKeyID = "06bd2777c44226b4c00834b201fffb15fe0769e4eef1a2f8ed2b62dda90e5774"
	otherCosignKeyID   = "4acd68dbd0a07cf3481337a716c7cb9999897d22ca4a7313d3981bc969727cef"
)

func cosignTestFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cosign", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func password(p string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(p), nil }
}

// TestCosignPrivateKey: cosign's encrypted private keys sign as in-toto
// keys, with the keyid in-toto-golang gives their public key, and verify
// with the .pub cosign wrote beside them.
func TestCosignPrivateKey(t *testing.T) {
	for _, tc := range []struct{ key, pub, password, keyid string }{
		{"cosign.key", "cosign.pub", "", cosignKeyID},
		{"pw.key", "pw.pub", "s3cret", ""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			data := cosignTestFile(t, tc.key)
			if !attest.IsCosignPrivateKey(data) {
				t.Fatal("not recognised as a cosign key")
			}
			s, err := attest.ParsePrivateKeyPassword(data, password(tc.password))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := attest.ParsePublicKey(cosignTestFile(t, tc.pub))
			if err != nil {
				t.Fatal(err)
			}
			if s.Key().KeyID != pub.KeyID || (tc.keyid != "" && s.Key().KeyID != tc.keyid) {
				t.Errorf("keyid %s, the .pub's %s", s.Key().KeyID, pub.KeyID)
			}
			if s.Key().KeyType != attest.KeyTypeECDSA || s.Key().Scheme != "ecdsa-sha2-nistp256" {
				t.Errorf("key %s %s", s.Key().KeyType, s.Key().Scheme)
			}
			pem, err := s.Key().MarshalPublicPEM()
			if err != nil || !bytes.Equal(bytes.TrimSpace(pem), bytes.TrimSpace(cosignTestFile(t, tc.pub))) {
				t.Errorf("public PEM differs from cosign's .pub: %v\n%s", err, pem)
			}
			env, err := attest.SignStatement([]byte(mustNewStatement(t)), s)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.VerifyKey(pub); err != nil {
				t.Errorf("signature does not verify with the .pub: %v", err)
			}
			other, err := attest.ParsePublicKey(cosignTestFile(t, "other.pub"))
			if err != nil {
				t.Fatal(err)
			}
			if err := env.VerifyKey(other); err == nil {
				t.Error("verifies with another cosign key")
			}
		})
	}
}

func mustNewStatement(t testing.TB) string {
	t.Helper()
	p, err := attest.NewStatement("app", "sha256:"+stmtHex, "https://example.com/vuln/v1", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

// TestCosignPrivateKeyRefused: wrong passwords (cosign trims nothing: a
// newline is part of the password), no password, a failing password
// source, a damaged key, and cosign RSA keys are refused in one line.
func TestCosignPrivateKeyRefused(t *testing.T) {
	pw := cosignTestFile(t, "pw.key")
	damaged := bytes.Replace(pw, []byte("eyJrZGYi"), []byte("eyJrZGYj"), 1)
	for _, tc := range []struct {
		name     string
		key      []byte
		password func() ([]byte, error)
		want     string
	}{
		{"wrong password", pw, password("secret"), "wrong password"},
		{"password with a newline", pw, password("s3cret\n"), "wrong password"},
		{"empty password for a password key", pw, password(""), "wrong password"},
		{"no password source", pw, nil, "no password"},
		{"password source fails", pw, func() ([]byte, error) { return nil, errors.New("no terminal") }, "no terminal"},
		{"damaged", damaged, password("s3cret"), "cosign private key"},
		{"public key", cosignTestFile(t, "cosign.pub"), password(""), "public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.ParsePrivateKeyPassword(tc.key, tc.password)
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
			for _, pkg := range []string{"encrypted:", "x509:", "asn1:"} {
				if strings.Contains(err.Error(), pkg) {
					t.Errorf("names a Go package: %v", err)
				}
			}
		})
	}
}

// TestCosignImportedKeys: keys of the other types cosign takes (cosign
// import-key-pair): Ed25519 signs pure Ed25519 as in-toto verifies; RSA is
// refused, as cosign signs it with PKCS#1 v1.5.
func TestCosignImportedKeys(t *testing.T) {
	for kt, want := range map[string]string{attest.KeyTypeEd25519: "", attest.KeyTypeECDSA: "", attest.KeyTypeRSA: "RSA"} {
		t.Run(kt, func(t *testing.T) {
			s := testSigners(t)[kt]
			plain, err := s.MarshalPrivatePEM()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, plain, 0o600); err != nil {
				t.Fatal(err)
			}
			kb, err := cosign.ImportKeyPair(path, func(bool) ([]byte, error) { return []byte("pw"), nil })
			if err != nil {
				t.Fatal(err)
			}
			got, err := attest.ParsePrivateKeyPassword(kb.PrivateBytes, password("pw"))
			if want != "" {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Key().KeyID != s.Key().KeyID {
				t.Errorf("keyid %s, want %s", got.Key().KeyID, s.Key().KeyID)
			}
			env, err := attest.SignStatement([]byte(mustNewStatement(t)), got)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.VerifyKey(s.Key()); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCosignPublicKey: a cosign public key is an in-toto ecdsa key with
// in-toto-golang's keyid and current in-toto's; cosign's own DSSE
// signatures (cosign attest, in ../oci/testdata/cosign) verify with it.
func TestCosignPublicKey(t *testing.T) {
	k, err := attest.ParsePublicKey(cosignTestFile(t, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyID != cosignKeyID || !k.HasID(cosignCurrentKeyID) || k.CurrentID() != cosignCurrentKeyID || k.KeyType != attest.KeyTypeECDSA {
		t.Fatalf("key %s %s %v", k.KeyType, k.KeyID, k.IDs())
	}
	other, err := attest.ParsePublicKey(cosignTestFile(t, "other.pub"))
	if err != nil || other.KeyID != otherCosignKeyID {
		t.Fatalf("other: %v %s", err, other.KeyID)
	}
	for _, name := range []string{"att-layer.slsa.json", "att-layer.custom.json", "att-layer.vuln-uri.json"} {
		data, err := os.ReadFile(filepath.Join("..", "oci", "testdata", "cosign", name))
		if err != nil {
			t.Fatal(err)
		}
		env, err := attest.ParseEnvelope(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.VerifyKey(k); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := env.VerifyKey(other); err == nil {
			t.Errorf("%s: verifies with another key", name)
		}
	}
	// Not a private key, and a private key file is not a cosign one.
	if attest.IsCosignPrivateKey(cosignTestFile(t, "cosign.pub")) {
		t.Error("a public key taken for a cosign private key")
	}
	plain, err := testSigners(t)[attest.KeyTypeEd25519].MarshalPrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	if attest.IsCosignPrivateKey(plain) {
		t.Error("a plain PEM key taken for a cosign key")
	}
	// A plain key is read without asking for a password.
	if _, err := attest.ParsePrivateKeyPassword(plain, func() ([]byte, error) {
		t.Error("password asked for a plain key")
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestCosignKeyMatchesCosign: ParsePrivateKeyPassword decrypts a cosign
// key without cosign's package; it must read every key, and refuse every
// password and damage, exactly as cosign.LoadPrivateKey does. The keys are
// the ones cosign wrote (testdata/cosign), ones cosign import-key-pair
// encrypted (Ed25519, ECDSA P-256) and ECDSA keys on P-224, P-384 and
// P-521 encrypted as cosign does; each is also tried with a wrong password
// and with its encrypted document cut or altered.
func TestCosignKeyMatchesCosign(t *testing.T) {
	type keyCase struct {
		name string
		data []byte
		pw   string
	}
	cases := []keyCase{
		{"cosign.key", cosignTestFile(t, "cosign.key"), ""},
		{"pw.key", cosignTestFile(t, "pw.key"), "s3cret"},
	}
	for _, kt := range []string{attest.KeyTypeEd25519, attest.KeyTypeECDSA} {
		plain, err := testSigners(t)[kt].MarshalPrivatePEM()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "key.pem")
		if err := os.WriteFile(path, plain, 0o600); err != nil {
			t.Fatal(err)
		}
		kb, err := cosign.ImportKeyPair(path, func(bool) ([]byte, error) { return []byte("pw " + kt), nil })
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, keyCase{"imported " + kt, kb.PrivateBytes, "pw " + kt})
	}
	// ECDSA keys on other curves, encrypted as cosign encrypts (cosign
	// takes P-384 and P-521, not P-224).
	for _, curve := range []elliptic.Curve{elliptic.P224(), elliptic.P384(), elliptic.P521()} {
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := encrypted.Encrypt(der, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, keyCase{"ecdsa " + curve.Params().Name, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc}), "pw"})
	}
	var tries []keyCase
	for _, c := range cases {
		tries = append(tries, c, keyCase{c.name + ", wrong password", c.data, c.pw + "x"})
		block, _ := pem.Decode(c.data)
		for i, cut := range []int{0, 1, len(block.Bytes) / 2, len(block.Bytes) - 1} {
			b := *block
			b.Bytes = block.Bytes[:cut]
			tries = append(tries, keyCase{fmt.Sprintf("%s, cut %d", c.name, i), pem.EncodeToMemory(&b), c.pw})
		}
		for i := 0; i < len(block.Bytes); i += len(block.Bytes)/8 + 1 {
			b := *block
			b.Bytes = bytes.Clone(block.Bytes)
			b.Bytes[i] ^= 0x01
			tries = append(tries, keyCase{fmt.Sprintf("%s, byte %d altered", c.name, i), pem.EncodeToMemory(&b), c.pw})
		}
	}
	for _, c := range tries {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // scrypt: about 0.1 s a key
			compareWithCosign(t, c.data, c.pw)
		})
	}
}

// compareWithCosign reads data with password pw as cosign and as referee,
// and fails unless both refuse it or both read the same key.
func compareWithCosign(t *testing.T, data []byte, pw string) {
	sv, cosignErr := cosign.LoadPrivateKey(data, []byte(pw), &[]signature.LoadOption{})
	s, err := attest.ParsePrivateKeyPassword(data, password(pw))
	if (cosignErr == nil) != (err == nil) {
		t.Fatalf("cosign: %v; referee: %v", cosignErr, err)
	}
	if err != nil {
		return
	}
	pub, err := sv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	want, err := attest.ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Key().KeyID != want.KeyID {
		t.Errorf("keyid %s, cosign's key's %s", s.Key().KeyID, want.KeyID)
	}
}
