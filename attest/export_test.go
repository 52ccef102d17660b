package attest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestExportRoundTrip exports every key type in every format it can be
// written in, loads the files back as referee loads key files, and checks
// that the keyid is kept and that signatures cross between the two.
func TestExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for kt, s := range testSigners(t) {
		for _, format := range []string{attest.ExportPEM, attest.ExportSecuresystemslib} {
			t.Run(kt+"/"+format, func(t *testing.T) {
				pub, err := attest.ExportPublicKey(s.Key(), format)
				if kt == attest.KeyTypeRSA && format == attest.ExportSecuresystemslib {
					wantErr(t, err, "RSA", "as PEM")
					_, err = attest.ExportPrivateKey(s, format)
					wantErr(t, err, "RSA", "as PEM")
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				priv, err := attest.ExportPrivateKey(s, format)
				if err != nil {
					t.Fatal(err)
				}
				base := filepath.Join(dir, kt+"-"+format)
				writeFile(t, base, string(priv))
				writeFile(t, base+".pub", string(pub))

				k, err := attest.LoadPublicKey(base + ".pub")
				if err != nil {
					t.Fatal(err)
				}
				back, err := attest.LoadSigner(base)
				if err != nil {
					t.Fatal(err)
				}
				if k.KeyID != s.Key().KeyID || back.Key().KeyID != s.Key().KeyID {
					t.Fatalf("keyids: exported public %s, private %s, want %s", k.KeyID, back.Key().KeyID, s.Key().KeyID)
				}
				msg := []byte("signed bytes")
				for _, pair := range []struct {
					by  *attest.Signer
					key *attest.Key
				}{{s, k}, {back, s.Key()}} {
					sig, err := pair.by.Sign(msg)
					if err != nil {
						t.Fatal(err)
					}
					if err := pair.key.Verify(msg, sig); err != nil {
						t.Fatalf("signature does not cross: %v", err)
					}
				}
			})
		}
	}
}

// TestExportAsPythonWrites checks the securesystemslib JSON export against
// files the Python reference wrote: read and written back, they are the
// same bytes, and the keyid is the one Python computed.
func TestExportAsPythonWrites(t *testing.T) {
	for _, tc := range []struct{ priv, pub, keyid string }{
		{peers + "/python-ed25519/functionary", peers + "/python-ed25519/functionary.pub", "cd357d3f046445b7cf10bdfb57c9fbadc65da725a25b69c44c4ebb97f144968c"},
		{peers + "/python-ed25519/owner", peers + "/python-ed25519/owner.pub", "471e02c26083d3cd279a80c2f2d70b840a02efccd778740fd8f6a42eba122d41"},
		{"testdata/python-ecdsa/key", "testdata/python-ecdsa/key.pub", "21163f60758cd5901816bef233c1c579373447ecac820608b4419fecc01eb4d7"},
	} {
		t.Run(tc.priv, func(t *testing.T) {
			s, err := attest.LoadSigner(tc.priv)
			if err != nil {
				t.Fatal(err)
			}
			if s.Key().KeyID != tc.keyid {
				t.Fatalf("keyid %s, Python's %s", s.Key().KeyID, tc.keyid)
			}
			for _, f := range []struct {
				file   string
				export func() ([]byte, error)
			}{
				{tc.priv, func() ([]byte, error) { return attest.ExportPrivateKey(s, attest.ExportSecuresystemslib) }},
				{tc.pub, func() ([]byte, error) { return attest.ExportPublicKey(s.Key(), attest.ExportSecuresystemslib) }},
			} {
				got, err := f.export()
				if err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(f.file)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Errorf("%s:\nexported %s\nPython   %s", f.file, got, want)
				}
			}
		})
	}
}

func TestExportErrors(t *testing.T) {
	s := testSigners(t)[attest.KeyTypeEd25519]
	_, err := attest.ExportPublicKey(s.Key(), "der")
	wantErr(t, err, `unknown key file format "der"`, "pem", "securesystemslib")
	_, err = attest.ExportPrivateKey(s, "")
	wantErr(t, err, `unknown key file format ""`)

	// A key read from a file that hashes its keyid otherwise would get
	// another keyid when written out: refused.
	odd, err := attest.ParsePublicKey([]byte(`{"keytype":"ed25519","scheme":"ed25519","keyid_hash_algorithms":["sha256"],"keyval":{"public":"` + s.Key().KeyVal.Public + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{attest.ExportPEM, attest.ExportSecuresystemslib} {
		_, err = attest.ExportPublicKey(odd, format)
		wantErr(t, err, "keyid_hash_algorithms [sha256]", "another keyid")
	}

	// in-toto-keygen -t ecdsa hashed its PEM with the final newline that a
	// PEM file's keyid does without: as PEM the key would change keyid.
	py, err := attest.LoadSigner("testdata/python-ecdsa/key")
	if err != nil {
		t.Fatal(err)
	}
	_, err = attest.ExportPublicKey(py.Key(), attest.ExportPEM)
	wantErr(t, err, "key 21163f60 would have keyid", "as a PEM file", "export it as securesystemslib")
	_, err = attest.ExportPrivateKey(py, attest.ExportPEM)
	wantErr(t, err, "key 21163f60 would have keyid")
}
