package attest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

const testLinkPayload = `{"_type":"link","name":"build","command":["make"],"materials":{},"products":{"out":{"sha256":"00ff"}},"byproducts":{"stdout":"a\nb <&>"},"environment":{}}`

func TestSignVerifyRoundTrip(t *testing.T) {
	ss := testSigners(t)
	for kt, s := range ss {
		for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
			t.Run(kt+"/"+form.String(), func(t *testing.T) {
				env, err := attest.SignPayload(form, []byte(testLinkPayload), s)
				if err != nil {
					t.Fatal(err)
				}
				data, err := env.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				back, err := attest.ParseEnvelope(data)
				if err != nil {
					t.Fatalf("%v\n%s", err, data)
				}
				if back.Form != form {
					t.Fatalf("form %v, want %v", back.Form, form)
				}
				if err := back.VerifyKey(s.Key()); err != nil {
					t.Fatalf("VerifyKey: %v", err)
				}
				if kind, err := back.PayloadKind(); err != nil || kind != "link" {
					t.Fatalf("PayloadKind = %q, %v", kind, err)
				}
				if _, err := attest.ParseLink(back.Payload); err != nil {
					t.Fatal(err)
				}
				// Any other key fails, whether the signature names it or not.
				for other, o := range ss {
					if other == kt {
						continue
					}
					wantErr(t, back.VerifyKey(o.Key()), "no signature by key "+o.Key().KeyID)
					forged := *back
					forged.Signatures = []attest.Signature{{KeyID: o.Key().KeyID, Sig: back.Signatures[0].Sig}}
					wantErr(t, forged.VerifyKey(o.Key()), "does not verify")
				}
				// The signature covers the payload: other bytes fail.
				tampered := *back
				tampered.Payload = bytes.Replace(back.Payload, []byte(`"build"`), []byte(`"bu1ld"`), 1)
				if bytes.Equal(tampered.Payload, back.Payload) {
					t.Fatal("payload not tampered")
				}
				wantErr(t, tampered.VerifyKey(s.Key()), "does not verify over this content")
			})
		}
	}
}

// TestSignReplacesSameKey checks that signing twice with one key keeps one
// signature, and that a second key adds one.
func TestSignReplacesSameKey(t *testing.T) {
	ss := testSigners(t)
	env, err := attest.SignPayload(attest.FormDSSE, []byte(testLinkPayload), ss["ed25519"], ss["ed25519"], ss["ecdsa"])
	if err != nil {
		t.Fatal(err)
	}
	ids := env.SignerKeyIDs()
	if len(ids) != 2 || ids[0] != ss["ed25519"].Key().KeyID || ids[1] != ss["ecdsa"].Key().KeyID {
		t.Fatalf("signers %v", ids)
	}
}

// TestPythonSignedLayouts verifies Metablock layouts signed by in-toto
// Python: the RSA layouts carry "private": "" in their keys, which the
// canonical form must keep for the signature to hold.
func TestPythonSignedLayouts(t *testing.T) {
	for _, tc := range []struct{ layout, key string }{
		{"python-rsa/root.layout", "python-rsa/owner.pub"},
		{"golang/root.layout", "golang/owner.pub"},
		{"golang/root.golang-signed.layout", "golang/owner.pub"},
		{"python-ed25519/root.layout", "python-ed25519/owner.pub"},
		{"python-ed25519/root.layout", "python-ed25519/owner.pem.pub"},
		{"python-ed25519/dsse/root.layout", "python-ed25519/owner.pub"},
		{"python-rsa/write-code.f2ecaf36.link", "python-rsa/functionary.pub"},
		{"golang/dsse/package.8b2b6237.link", "golang/functionary.pub"},
	} {
		t.Run(tc.layout+"/"+filepath.Base(tc.key), func(t *testing.T) {
			env, err := attest.ReadEnvelopeFile(filepath.Join(peers, tc.layout), attest.DefaultMaxFileSize)
			if err != nil {
				t.Fatal(err)
			}
			key, err := attest.LoadPublicKey(filepath.Join(peers, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			if err := env.VerifyKey(key); err != nil {
				t.Fatal(err)
			}
			kind, err := env.PayloadKind()
			if err != nil {
				t.Fatal(err)
			}
			switch kind {
			case "layout":
				if _, err := attest.ParseLayout(env.Payload); err != nil {
					t.Fatal(err)
				}
			case "link":
				if _, err := attest.ParseLink(env.Payload); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("kind %q", kind)
			}
			// Re-encoding keeps the signature valid.
			data, err := env.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := attest.ParseEnvelope(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := back.VerifyKey(key); err != nil {
				t.Fatalf("after re-encoding: %v", err)
			}
		})
	}
}

// TestPythonLayoutNeedsPrivateField shows why the signed bytes must be the
// document as it arrived: dropping "private": "" (as in-toto-golang does)
// breaks Python's signature.
func TestPythonLayoutNeedsPrivateField(t *testing.T) {
	env, err := attest.ReadEnvelopeFile(filepath.Join(peers, "python-rsa/root.layout"), attest.DefaultMaxFileSize)
	if err != nil {
		t.Fatal(err)
	}
	key, err := attest.LoadPublicKey(filepath.Join(peers, "python-rsa/owner.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(env.Payload, []byte(`"private": ""`)) {
		t.Fatal("fixture has no \"private\": \"\"")
	}
	env.Payload = bytes.ReplaceAll(env.Payload, []byte(`"private": "",`), nil)
	wantErr(t, env.VerifyKey(key), "does not verify")
}

func TestParseEnvelopeBadInput(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	manySigs := `{"payloadType":"application/vnd.in-toto+json","payload":"` + b64("{}") + `","signatures":[` +
		strings.Repeat(`{"keyid":"a","sig":""},`, 64) + `{"keyid":"a","sig":""}]}`
	for _, tc := range []struct{ name, data, want string }{
		{"empty", ``, "is empty"},
		{"only whitespace", " \n\t", "is empty"},
		{"truncated", `{"signed": {"_type": "link"`, "truncated"},
		{"array", `[]`, "not a JSON object"},
		{"string", `"x"`, "not a JSON object"},
		{"neither form", `{"_type":"link"}`, "neither a DSSE envelope"},
		{"both forms", `{"signed":{},"payload":""}`, "ambiguous"},
		{"case-folded signed", `{"signed":{"_type":"link"},"SIGNED":{"_type":"layout"},"signatures":[]}`, `field "SIGNED"`},
		{"case-folded signatures", `{"signed":{},"Signatures":[]}`, `field "Signatures"`},
		{"case-folded payloadType", `{"payload":"e30=","payloadtype":"application/vnd.in-toto+json"}`, `field "payloadtype"`},
		{"trailing data", `{"signed":{},"signatures":[]} {}`, "trailing data"},
		{"deep nesting", `{"signed":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, "nested deeper"},
		{"signed not object", `{"signed":[1],"signatures":[]}`, `"signed" is not a JSON object`},
		{"signed null", `{"signed":null,"signatures":[]}`, `"signed" is not a JSON object`},
		{"signatures wrong type", `{"signed":{},"signatures":"abc"}`, "metablock"},
		{"metablock sig not hex", `{"signed":{},"signatures":[{"keyid":"a","sig":"xyz"}]}`, "not hex"},
		{"DSSE wrong payloadType", `{"payloadType":"application/json","payload":"` + b64("{}") + `","signatures":[]}`, `payloadType is "application/json"`},
		{"DSSE no payloadType", `{"payload":"` + b64("{}") + `","signatures":[]}`, `payloadType is ""`},
		{"DSSE payload not base64", `{"payloadType":"application/vnd.in-toto+json","payload":"!!!","signatures":[]}`, "not base64"},
		{"DSSE payload wrong type", `{"payloadType":"application/vnd.in-toto+json","payload":7,"signatures":[]}`, "DSSE envelope"},
		{"DSSE sig not base64", `{"payloadType":"application/vnd.in-toto+json","payload":"` + b64("{}") + `","signatures":[{"keyid":"a","sig":"!!"}]}`, "not base64"},
		{"too many signatures", manySigs, "more than the 64 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.ParseEnvelope([]byte(tc.data))
			wantErr(t, err, tc.want)
		})
	}
}

func TestPayloadKind(t *testing.T) {
	for payload, want := range map[string]string{
		`{"_type":"layout"}`: "layout",
		`{"_type":"link"}`:   "link",
		`{"_type":"other"}`:  "other",
		`{}`:                 "error: payload has no \"_type\"",
		`{"_type":7}`:        "error: payload",
		`[1]`:                "error: payload",
	} {
		got, err := attest.NewEnvelope(attest.FormDSSE, []byte(payload)).PayloadKind()
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("PayloadKind(%s) = %q, want %q", payload, got, want)
		}
	}
}

func TestParseForm(t *testing.T) {
	for in, want := range map[string]attest.Form{"": attest.FormDSSE, "dsse": attest.FormDSSE, "metablock": attest.FormMetablock} {
		if got, err := attest.ParseForm(in); err != nil || got != want {
			t.Errorf("ParseForm(%q) = %v, %v", in, got, err)
		}
	}
	wantErr(t, func() error { _, err := attest.ParseForm("DSSE2"); return err }(), `"DSSE2"`)
}

// TestMetablockMarshalKeepsSigned checks that a Metablock is written with
// its "signed" object field for field, including fields referee does not
// model, and that DSSE envelopes carry the in-toto payloadType.
func TestMetablockMarshalKeepsSigned(t *testing.T) {
	payload := `{"_type":"link","x-unknown":{"keep":[1,2]},"name":"a"}`
	env := attest.NewEnvelope(attest.FormMetablock, []byte(payload))
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Signed     map[string]any `json:"signed"`
		Signatures []any          `json:"signatures"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Signed["x-unknown"]; !ok || got.Signatures == nil {
		t.Fatalf("marshalled %s", data)
	}
	d := attest.NewEnvelope(attest.FormDSSE, []byte(payload))
	data, err = d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"payloadType": "application/vnd.in-toto+json"`)) {
		t.Fatalf("DSSE marshalled %s", data)
	}
}
