package attest_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// goSpeak are words of Go, not of the user, that no message may hold.
var goSpeak = []string{"attest.", "securesystemslib key", "struct", "type ", "json:", "yaml:", "unmarshal"}

// wantUserMessage fails unless err is exactly want, on one line, in the
// user's words.
func wantUserMessage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q", want)
	}
	msg := err.Error()
	if msg != want {
		t.Errorf("error\n  %q\nwant\n  %q", msg, want)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error %q is more than one line", msg)
	}
	for _, w := range goSpeak {
		if strings.Contains(msg, w) {
			t.Errorf("error %q speaks Go (%q)", msg, w)
		}
	}
}

// TestLoadPublicKeyRefusesPrivate checks that a private key given where a
// public one belongs is refused in both forms, naming the public key file
// beside it, and that LoadAnyKey and LoadSigner take it.
func TestLoadPublicKeyRefusesPrivate(t *testing.T) {
	dir := t.TempDir()
	ed := testSigners(t)[attest.KeyTypeEd25519]
	pemPriv, err := attest.ExportPrivateKey(ed, attest.ExportPEM)
	if err != nil {
		t.Fatal(err)
	}
	jsonPriv, err := attest.ExportPrivateKey(ed, attest.ExportSecuresystemslib)
	if err != nil {
		t.Fatal(err)
	}
	jsonPub, err := attest.ExportPublicKey(ed.Key(), attest.ExportSecuresystemslib)
	if err != nil {
		t.Fatal(err)
	}
	alice := filepath.Join(dir, "alice")     // PEM, with alice.pub beside it
	bob := filepath.Join(dir, "bob")         // JSON, no public key beside it
	carol := filepath.Join(dir, "carol.pub") // a public key, with carol beside it
	writeFile(t, alice, string(pemPriv))
	writeFile(t, alice+".pub", string(jsonPub))
	writeFile(t, bob, string(jsonPriv))
	writeFile(t, carol, string(jsonPub))
	writeFile(t, filepath.Join(dir, "carol"), string(jsonPriv))
	for _, tc := range []struct {
		path, want string
	}{
		{alice, alice + ": is a private key; give the public key (" + alice + ".pub)"},
		{bob, bob + ": is a private key; give the public key"},
	} {
		_, err := attest.LoadPublicKey(tc.path)
		wantUserMessage(t, err, tc.want)
		if !errors.Is(err, attest.ErrPrivateKey) {
			t.Errorf("%v is not ErrPrivateKey", err)
		}
		k, err := attest.LoadAnyKey(tc.path)
		if err != nil || k.KeyID != ed.Key().KeyID {
			t.Errorf("LoadAnyKey(%s): %v", tc.path, err)
		}
	}
	for _, tc := range []struct {
		path, want string
	}{
		{carol, carol + ": is a public key; give the private key (" + filepath.Join(dir, "carol") + ")"},
		{alice + ".pub", alice + ".pub: is a public key; give the private key (" + alice + ")"},
	} {
		_, err := attest.LoadSigner(tc.path)
		wantUserMessage(t, err, tc.want)
		if !errors.Is(err, attest.ErrPublicKey) {
			t.Errorf("%v is not ErrPublicKey", err)
		}
		if k, err := attest.LoadAnyKey(tc.path); err != nil || k.KeyID != ed.Key().KeyID {
			t.Errorf("LoadAnyKey(%s): %v", tc.path, err)
		}
	}
	// A PEM public key given as private, with no private key beside it.
	pemPub, err := attest.ExportPublicKey(ed.Key(), attest.ExportPEM)
	if err != nil {
		t.Fatal(err)
	}
	lone := filepath.Join(dir, "lone.pub")
	writeFile(t, lone, string(pemPub))
	_, err = attest.LoadSigner(lone)
	wantUserMessage(t, err, lone+": is a public key; give the private key")
}

// TestKeyLoadingNotAKey checks what key loading says of layouts, links and
// other JSON given as a key file (`referee key id root.layout`).
func TestKeyLoadingNotAKey(t *testing.T) {
	dsse := `{"payloadType":"application/vnd.in-toto+json","payload":"` +
		base64.StdEncoding.EncodeToString([]byte(`{"_type":"layout","steps":[]}`)) + `","signatures":[]}`
	for _, tc := range []struct {
		name, data, want string
	}{
		{"Metablock layout", string(peerFile(t, "python-ed25519/root.layout")), "is a signed in-toto layout, not a key file"},
		{"Metablock link", string(peerFile(t, "python-ed25519/write-code.cd357d3f.link")), "is a signed in-toto link, not a key file"},
		{"DSSE layout", string(peerFile(t, "python-ed25519/dsse/root.layout")), "is a signed in-toto layout (DSSE envelope), not a key file"},
		{"DSSE made here", dsse, "is a signed in-toto layout (DSSE envelope), not a key file"},
		{"DSSE of garbage", `{"payload":"!!!","signatures":[]}`, "is a DSSE envelope, not a key file"},
		{"unsigned link", `{"_type":"link","name":"build"}`, "is an unsigned in-toto link, not a key file"},
		{"Metablock of no type", `{"signed":{},"signatures":[]}`, "is a signed in-toto document, not a key file"},
		{"other JSON", `{"name":"x"}`, "is JSON without a keytype, not a key file"},
		{"JSON list", `[1]`, "is JSON but not a key file (a key file is a JSON object with a keytype)"},
		{"wrong field kind", `{"keytype":"ed25519","scheme":"ed25519","keyval":"00"}`, `JSON key: "keyval" is a JSON string where an object belongs`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "root.layout")
			writeFile(t, path, tc.data)
			for what, load := range map[string]func(string) error{
				"LoadPublicKey": func(p string) error { _, err := attest.LoadPublicKey(p); return err },
				"LoadAnyKey":    func(p string) error { _, err := attest.LoadAnyKey(p); return err },
				"LoadSigner":    func(p string) error { _, err := attest.LoadSigner(p); return err },
			} {
				t.Run(what, func(t *testing.T) {
					wantUserMessage(t, load(path), path+": "+tc.want)
				})
			}
		})
	}
}

// TestLoadAnyKeyKeepsPythonKeyIDs checks that a Python-made ecdsa
// key pair has one keyid whichever half is read.
func TestLoadAnyKeyKeepsPythonKeyIDs(t *testing.T) {
	const want = "21163f60758cd5901816bef233c1c579373447ecac820608b4419fecc01eb4d7"
	for _, p := range []string{"testdata/python-ecdsa/key", "testdata/python-ecdsa/key.pub"} {
		k, err := attest.LoadAnyKey(p)
		if err != nil || k.KeyID != want {
			t.Errorf("%s: %v %v", p, k, err)
		}
	}
	if _, err := os.Stat("testdata/python-ecdsa/key"); err != nil {
		t.Fatal(err)
	}
}
