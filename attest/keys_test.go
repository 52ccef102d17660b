package attest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"path/filepath"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestPeerKeyIDs checks that referee computes the keyids the references
// print for the same files (keyids.txt holds their output).
func TestPeerKeyIDs(t *testing.T) {
	for _, dir := range []string{"python-rsa", "python-ed25519", "golang"} {
		ids := peerKeyIDs(t, dir)
		if len(ids) == 0 {
			t.Fatalf("%s: empty keyids.txt", dir)
		}
		for file, want := range ids {
			t.Run(dir+"/"+file, func(t *testing.T) {
				k, err := attest.LoadPublicKey(filepath.Join(peers, dir, file))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range want {
					if k.KeyID != w {
						t.Errorf("keyid %s, want %s", k.KeyID, w)
					}
				}
			})
		}
	}
}

// TestPeerPrivateKeys loads the references' private keys: PKCS#1 RSA PEM
// (in-toto-keygen's default), securesystemslib JSON ed25519 and PKCS#8
// ed25519; each has the keyid of its public half and signs verifiably.
func TestPeerPrivateKeys(t *testing.T) {
	for _, tc := range []struct{ priv, pub string }{
		{"python-rsa/functionary", "python-rsa/functionary.pub"},
		{"python-rsa/owner", "python-rsa/owner.pub"},
		{"golang/functionary", "golang/functionary.pub"},
		{"python-ed25519/functionary", "python-ed25519/functionary.pub"},
		{"python-ed25519/owner", "python-ed25519/owner.pub"},
		{"python-ed25519/owner.pem", "python-ed25519/owner.pub"},
		{"python-ed25519/functionary.pem", "python-ed25519/functionary.pem.pub"},
	} {
		t.Run(tc.priv, func(t *testing.T) {
			s, err := attest.ParsePrivateKey(peerFile(t, tc.priv))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := attest.ParsePublicKey(peerFile(t, tc.pub))
			if err != nil {
				t.Fatal(err)
			}
			if s.Key().KeyID != pub.KeyID {
				t.Fatalf("private key has keyid %s, public %s", s.Key().KeyID, pub.KeyID)
			}
			sig, err := s.Sign([]byte("msg"))
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.Verify([]byte("msg"), sig); err != nil {
				t.Fatalf("own signature: %v", err)
			}
			if err := pub.Verify([]byte("other"), sig); !errors.Is(err, attest.ErrBadSignature) {
				t.Fatalf("signature over other bytes: %v", err)
			}
		})
	}
}

func TestParsePrivateKeyForms(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := attest.ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	if err != nil {
		t.Fatal(err)
	}
	if pub.KeyType != attest.KeyTypeECDSA || pub.Scheme != attest.SchemeECDSAP256 {
		t.Fatalf("ecdsa key parsed as %s/%s", pub.KeyType, pub.Scheme)
	}
	for name, block := range map[string]*pem.Block{
		"SEC1":   {Type: "EC PRIVATE KEY", Bytes: sec1},
		"PKCS#8": {Type: "PRIVATE KEY", Bytes: pkcs8},
	} {
		s, err := attest.ParsePrivateKey(pem.EncodeToMemory(block))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Key().KeyID != pub.KeyID {
			t.Errorf("%s: keyid %s, want %s", name, s.Key().KeyID, pub.KeyID)
		}
	}
	// A private key file is no public key, but gives its public half.
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	if _, err := attest.ParsePublicKey(sec1PEM); !errors.Is(err, attest.ErrPrivateKey) {
		t.Fatalf("ParsePublicKey of a SEC1 file: %v", err)
	}
	k, err := attest.ParseAnyKey(sec1PEM)
	if err != nil || k.KeyID != pub.KeyID {
		t.Fatalf("public half of a SEC1 file: %v, %v", k, err)
	}
	// MarshalPrivatePEM / MarshalPublicPEM round trip for every type.
	for kt, s := range testSigners(t) {
		priv, err := s.MarshalPrivatePEM()
		if err != nil {
			t.Fatal(err)
		}
		back, err := attest.ParsePrivateKey(priv)
		if err != nil || back.Key().KeyID != s.Key().KeyID {
			t.Fatalf("%s: private PEM round trip: %v", kt, err)
		}
		pubPEM, err := s.Key().MarshalPublicPEM()
		if err != nil {
			t.Fatal(err)
		}
		pk, err := attest.ParsePublicKey(pubPEM)
		if err != nil || pk.KeyID != s.Key().KeyID || pk.KeyType != kt {
			t.Fatalf("%s: public PEM round trip: %v %v", kt, pk, err)
		}
	}
}

func TestParseKeyBadInput(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub := string(peerFile(t, "python-ed25519/functionary.pub"))
	encLegacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte("not really ciphertext")})
	encPKCS8 := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("ciphertext")})
	for _, tc := range []struct {
		name       string
		data       string
		private    bool // ParsePrivateKey, else ParsePublicKey
		want       string
		unknownKey bool
	}{
		{name: "empty", data: "", want: "not a PEM file"},
		{name: "garbage", data: "hello", want: "not a PEM file"},
		{name: "encrypted legacy PEM (private)", data: string(encLegacy), private: true, want: "encrypted private keys are not supported"},
		{name: "encrypted legacy PEM (public)", data: string(encLegacy), want: "is a private key"},
		{name: "encrypted PKCS#8 (private)", data: string(encPKCS8), private: true, want: "encrypted private keys are not supported"},
		{name: "encrypted PKCS#8 (public)", data: string(encPKCS8), want: "is a private key"},
		{name: "certificate", data: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", private: true, want: "not a private key"},
		{name: "JSON unknown keytype", data: `{"keytype":"dsa","scheme":"dsa","keyval":{"public":"00"}}`, want: "unknown key type", unknownKey: true},
		{name: "JSON ed25519 wrong scheme", data: `{"keytype":"ed25519","scheme":"rsassa-pss-sha256","keyval":{"public":"00"}}`, want: "unknown key type", unknownKey: true},
		{name: "JSON no keytype", data: `{"keyval":{"public":"00"}}`, want: "without a keytype, not a key file"},
		{name: "JSON empty keytype", data: `{"keytype":"","keyval":{"public":"00"}}`, want: "keytype is empty"},
		{name: "JSON public not a string", data: `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":7}}`, want: `"keyval.public" is a JSON number where a string belongs`},
		{name: "PEM public key as private", data: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER})), private: true, want: "is a public key"},
		{name: "JSON ed25519 short public", data: `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"0011"}}`, want: "32 hex-encoded bytes"},
		{name: "JSON truncated", data: `{"keytype":"ed25519",`, want: "truncated"},
		{name: "JSON wrong keyid", data: edPub[:len(edPub)-1] + `, "keyid": "00"}`, want: "does not match"},
		{name: "JSON public key as private", data: edPub, private: true, want: "is a public key"},
		{name: "JSON ed25519 private not hex", data: `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"07ac9fe58a9d33e940c4a19fe264f344c2a3a176cae4f01de4e0fa455188c864","private":"zz"}}`, private: true, want: "not hex"},
		{name: "JSON ed25519 private of another key", data: `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"07ac9fe58a9d33e940c4a19fe264f344c2a3a176cae4f01de4e0fa455188c864","private":"` + zeros(64) + `"}}`, private: true, want: "does not match"},
		{name: "RSA under 2048 bits", data: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER})), want: "too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.private {
				_, err = attest.ParsePrivateKey([]byte(tc.data))
			} else {
				_, err = attest.ParsePublicKey([]byte(tc.data))
			}
			wantErr(t, err, tc.want)
			if tc.unknownKey && !errors.Is(err, attest.ErrUnknownKeyType) {
				t.Errorf("error %v is not ErrUnknownKeyType", err)
			}
		})
	}
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

func TestGenerateKeyUnknownType(t *testing.T) {
	_, err := attest.GenerateKey("dsa")
	if !errors.Is(err, attest.ErrUnknownKeyType) {
		t.Fatalf("GenerateKey(dsa): %v", err)
	}
}

func TestKeyFromLayoutWrongKeyID(t *testing.T) {
	raw := peerFile(t, "python-ed25519/functionary.pub")
	if _, err := attest.KeyFromLayout("cd357d3f046445b7cf10bdfb57c9fbadc65da725a25b69c44c4ebb97f144968c", raw); err != nil {
		t.Fatal(err)
	}
	_, err := attest.KeyFromLayout("471e02c26083d3cd279a80c2f2d70b840a02efccd778740fd8f6a42eba122d41", raw)
	wantErr(t, err, "listed as 471e02c2", "cd357d3f")
}
