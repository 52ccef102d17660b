package attest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// envelopeRef is Envelope.Marshal as it was written before the hand-written
// writer: through encoding/json, HTML not escaped, indented by one space.
func envelopeRef(e *attest.Envelope) ([]byte, error) {
	type sigJSON struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	sigs := make([]sigJSON, 0, len(e.Signatures))
	var out any
	switch e.Form {
	case attest.FormDSSE:
		for _, s := range e.Signatures {
			sigs = append(sigs, sigJSON{s.KeyID, base64.StdEncoding.EncodeToString(s.Sig)})
		}
		out = struct {
			PayloadType string    `json:"payloadType"`
			Payload     string    `json:"payload"`
			Signatures  []sigJSON `json:"signatures"`
		}{e.PayloadType, base64.StdEncoding.EncodeToString(e.Payload), sigs}
	case attest.FormMetablock:
		for _, s := range e.Signatures {
			sigs = append(sigs, sigJSON{s.KeyID, hex.EncodeToString(s.Sig)})
		}
		out = struct {
			Signatures []sigJSON       `json:"signatures"`
			Signed     json.RawMessage `json:"signed"`
		}{sigs, e.Payload}
	default:
		return nil, errors.New("envelope of unknown form")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func checkEnvelopeMarshal(t *testing.T, e *attest.Envelope) {
	t.Helper()
	want, wantErr := envelopeRef(e)
	got, err := e.Marshal()
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Marshal error %v, encoding/json's %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal differs from encoding/json:\n got %q\nwant %q", got, want)
	}
}

// metablockPayloads are "signed" values, valid JSON or not, laid out in
// every way.
var metablockPayloads = []string{
	`{}`, `[]`, `{"a":[]}`, `{"a":{},"b":[{}],"c":[1,[2,[]],{"d":null}]}`, "123", `"s"`, "null", "true",
	" \n{ \"a\" :\t[ 1 , 2 ] }\r\n ", `{"x":"<&>\u2028 ` + "\u2028\u2029" + `\" \\ "}`, "{\"raw\":\"\xff\"}",
	"", " ", "{", `{"a":}`, `{"a":1}x`, `{"a":1} {}`, "[1,]", "\"\n\"", `{"signed":{"k":"v"}}` + "\n",
}

// TestEnvelopeMarshalMatchesEncodingJSON compares the hand-written writer
// with encoding/json over both forms.
func TestEnvelopeMarshalMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 3))
	var payloads [][]byte
	for _, p := range metablockPayloads {
		payloads = append(payloads, []byte(p))
	}
	payloads = append(payloads, nil)
	for range 50 {
		p, err := randLink(r).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, p)
		var ind bytes.Buffer
		if err := json.Indent(&ind, p, "", "\t"); err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, ind.Bytes())
	}
	for i, p := range payloads {
		for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock, 0, 7} {
			var sigs []attest.Signature
			for range r.IntN(4) {
				var sig []byte
				if r.IntN(3) > 0 {
					sig = make([]byte, r.IntN(70))
					for j := range sig {
						sig[j] = byte(r.Uint32())
					}
				}
				sigs = append(sigs, attest.Signature{KeyID: randString(r, 8, true), Sig: sig})
			}
			e := &attest.Envelope{Form: form, PayloadType: randString(r, 4, true), Payload: p, Signatures: sigs}
			if r.IntN(2) == 0 {
				e.PayloadType = attest.PayloadType
			}
			t.Run(fmt.Sprintf("%d/%v", i, form), func(t *testing.T) { checkEnvelopeMarshal(t, e) })
		}
	}
}

// TestEnvelopeMarshalSigned checks a signed link in both forms, and that
// the output reads back as the envelope.
func TestEnvelopeMarshalSigned(t *testing.T) {
	signer, err := attest.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	payload, err := bigLink(100).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
		e, err := attest.SignPayload(form, payload, signer)
		if err != nil {
			t.Fatal(err)
		}
		checkEnvelopeMarshal(t, e)
		data, _ := e.Marshal()
		back, err := attest.ParseEnvelope(data)
		if err != nil {
			t.Fatalf("%v: %v", form, err)
		}
		if err := back.VerifyKey(signer.Key()); err != nil {
			t.Errorf("%v: %v", form, err)
		}
	}
}

// TestWriteSignedFile: the file holds, and WriteSignedFile returns, what
// SignPayload and Marshal write, byte for byte (Ed25519 signatures are
// deterministic), in both forms, with no, one or two signers, and for a
// payload synced while it is signed (over 1 MiB encoded); its envelope
// verifies. An ECDSA signer's signature differs each time, so that
// envelope is compared by its keyids (and a DSSE one's payload). Without
// force an existing file is ErrExists and stays as it was; a signer that
// panics is an error; no temporary file is left behind.
func TestWriteSignedFile(t *testing.T) {
	var signers []*attest.Signer
	for _, typ := range []string{"ed25519", "ed25519", "ecdsa"} {
		s, err := attest.GenerateKey(typ)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	small, err := bigLink(1000).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	large, err := bigLink(12000).Marshal() // encoded, over 1 MiB: synced while it is signed
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	type writing struct {
		form    attest.Form
		payload []byte
		by      []*attest.Signer
	}
	var cases []writing
	for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
		for _, by := range [][]*attest.Signer{nil, signers[:1], signers[:2], signers[2:]} {
			cases = append(cases, writing{form, small, by})
		}
	}
	cases = append(cases, writing{attest.FormDSSE, large, signers[:1]})
	for i, c := range cases {
		what := fmt.Sprintf("%v, %d signers, %d bytes", c.form, len(c.by), len(c.payload))
		path := filepath.Join(dir, fmt.Sprintf("%d.link", i))
		want, err := attest.SignPayload(c.form, c.payload, c.by...)
		if err != nil {
			t.Fatal(err)
		}
		wantData, _ := want.Marshal()
		data, err := attest.WriteSignedFile(path, 0o644, false, c.form, c.payload, c.by...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		onDisk, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(onDisk, data) {
			t.Fatalf("%s: the file (%d bytes) is not the bytes returned (%d): %v", what, len(onDisk), len(data), err)
		}
		back, err := attest.ParseEnvelope(data)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, s := range c.by {
			if err := back.VerifyKey(s.Key()); err != nil {
				t.Errorf("%s: %v", what, err)
			}
		}
		if c.by == nil || c.by[0].Key().KeyType == "ed25519" {
			if !bytes.Equal(data, wantData) {
				t.Errorf("%s: WriteSignedFile wrote\n%.300s\nSignPayload and Marshal\n%.300s", what, data, wantData)
			}
		} else if c.form == attest.FormDSSE && !bytes.Equal(back.Payload, want.Payload) || fmt.Sprint(back.SignerKeyIDs()) != fmt.Sprint(want.SignerKeyIDs()) {
			t.Errorf("%s: payload or keyids differ", what) // a Metablock's payload is as written, indented
		}
		if _, err := attest.WriteSignedFile(path, 0o644, false, c.form, []byte(`{"_type":"link"}`), c.by...); !errors.Is(err, attest.ErrExists) {
			t.Errorf("%s: over an existing file without force: %v, want ErrExists", what, err)
		}
		if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
			t.Errorf("%s: the existing file changed", what)
		}
		if _, err := attest.WriteSignedFile(path, 0o644, true, c.form, c.payload, c.by...); err != nil {
			t.Errorf("%s: with force: %v", what, err)
		}
	}
	// A signer that panics (nil here) is an error; nothing is written.
	if _, err := attest.WriteSignedFile(filepath.Join(dir, "panics.link"), 0o644, false, attest.FormDSSE, small, nil); err == nil {
		t.Error("a signer that panics: no error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(cases) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the directory holds %v, want the %d links alone", names, len(cases))
	}
}

// FuzzEnvelopeMarshal compares the writer with encoding/json for any
// payload, keyid and signature in both forms.
func FuzzEnvelopeMarshal(f *testing.F) {
	for _, p := range metablockPayloads {
		f.Add([]byte(p), "k", []byte{1, 2}, "application/vnd.in-toto+json")
	}
	f.Fuzz(func(t *testing.T, payload []byte, keyID string, sig []byte, payloadType string) {
		for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
			checkEnvelopeMarshal(t, &attest.Envelope{Form: form, PayloadType: payloadType, Payload: payload, Signatures: []attest.Signature{{KeyID: keyID, Sig: sig}, {}}})
		}
	})
}

// BenchmarkEnvelopeMarshal compares, side by side, Envelope.Marshal with
// encoding/json (what it was) on a signed link of 100,000 artifacts.
func BenchmarkEnvelopeMarshal(b *testing.B) {
	payload, err := bigLink(100000).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	signer, err := attest.GenerateKey("")
	if err != nil {
		b.Fatal(err)
	}
	for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
		e, err := attest.SignPayload(form, payload, signer)
		if err != nil {
			b.Fatal(err)
		}
		for _, impl := range []struct {
			name string
			f    func(*attest.Envelope) ([]byte, error)
		}{{"writer", (*attest.Envelope).Marshal}, {"encoding-json", envelopeRef}} {
			b.Run(fmt.Sprintf("100000/%v/%s", form, impl.name), func(b *testing.B) {
				for b.Loop() {
					out, err := impl.f(e)
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(out)))
				}
			})
		}
	}
}
