package attest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestCertificateKey: in-toto-golang's certificate is read wherever a
// public key file is, as the key it holds with that key's keyid, and a
// layout entry with keyval.certificate (as `in-toto key layout` prints it)
// is read with its certificate.
func TestCertificateKey(t *testing.T) {
	cert, err := attest.ParsePublicKey(readTestdata(t, "ingolang", "example.com.write-code.cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if cert.Certificate() == nil || cert.Certificate().Subject.CommonName != "write-code.example.com" {
		t.Fatalf("certificate %v", cert.Certificate())
	}
	own, err := attest.ParseAnyKey(readTestdata(t, "ingolang", "example.com.write-code.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if own.KeyID != cert.KeyID || own.KeyVal.Public != cert.KeyVal.Public || own.Certificate() != nil {
		t.Errorf("private key %s, certificate %s", own.KeyID, cert.KeyID)
	}
	raw, err := json.Marshal(cert)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"certificate":"-----BEGIN CERTIFICATE-----`) {
		t.Errorf("layout entry %s", raw)
	}
	back, err := attest.KeyFromLayout(cert.KeyID, raw)
	if err != nil || back.Certificate() == nil || !back.Certificate().Equal(cert.Certificate()) {
		t.Fatalf("read back: %v", err)
	}
}

// TestCertificateBadInput: a certificate that does not parse, or that holds
// another key than the one listed, is refused in words.
func TestCertificateBadInput(t *testing.T) {
	cert := string(readTestdata(t, "ingolang", "example.com.write-code.cert.pem"))
	other := string(readTestdata(t, "ingolang", "root.cert.pem"))
	key, err := attest.ParsePublicKey([]byte(cert))
	if err != nil {
		t.Fatal(err)
	}
	entry := func(certificate string) json.RawMessage {
		raw, _ := json.Marshal(map[string]any{"keytype": key.KeyType, "scheme": key.Scheme, "keyid_hash_algorithms": key.KeyIDHashAlgorithms,
			"keyval": map[string]string{"public": key.KeyVal.Public, "certificate": certificate}})
		return raw
	}
	for _, tc := range []struct {
		name string
		file string          // given to ParsePublicKey
		raw  json.RawMessage // or listed in a layout
		want string
	}{
		{name: "garbage certificate file", file: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", want: "reading the certificate: malformed certificate"},
		{name: "listed certificate of another key", raw: entry(other), want: "the certificate holds another key than keyval.public"},
		{name: "listed certificate that is a key", raw: entry(key.KeyVal.Public), want: "certificate is not a PEM certificate"},
		{name: "listed garbage certificate", raw: entry("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), want: "reading the certificate: malformed certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.raw != nil {
				_, err = attest.KeyFromLayout(key.KeyID, tc.raw)
			} else {
				_, err = attest.ParsePublicKey([]byte(tc.file))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "x509") || strings.Contains(err.Error(), "\n") {
				t.Errorf("message not in words on one line: %q", err)
			}
		})
	}
}
