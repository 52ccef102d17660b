package attest_test

import (
	"bytes"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// An envelope that remembers its signatures (Memoize) answers
// as one that does not, whatever is done to it after a check: another
// payload, another signature, another key of the same type, the same key
// parsed again; in both forms, for every key type.
func TestMemoizeAnswersAsVerifying(t *testing.T) {
	signers := testSigners(t)
	for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
		for kt, s := range signers {
			t.Run(form.String()+"/"+kt, func(t *testing.T) {
				link := &attest.Link{Name: "build", Command: []string{"make"}}
				payload, err := link.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				signed, err := attest.SignPayload(form, payload, s)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := signed.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				env, err := attest.ParseEnvelope(raw)
				if err != nil {
					t.Fatal(err)
				}
				env.Memoize(nil)
				pem, err := s.Key().MarshalPublicPEM()
				if err != nil {
					t.Fatal(err)
				}
				again, err := attest.ParsePublicKey(pem) // another *Key, same key
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 2; i++ {
					for _, k := range []*attest.Key{s.Key(), again} {
						if err := env.VerifyKey(k); err != nil {
							t.Fatalf("check %d: %v", i, err)
						}
					}
				}
				var other *attest.Signer
				for okt, o := range signers {
					if okt != kt {
						other = o
					}
				}
				fresh, err := attest.GenerateKey(kt)
				if err != nil {
					t.Fatal(err)
				}
				if err := env.VerifyKey(fresh.Key()); err == nil {
					t.Error("verifies with a new key of the same type")
				}
				if err := env.VerifyKey(other.Key()); err == nil {
					t.Error("verifies with a key of another type")
				}
				// Other bytes under the remembered signature.
				orig := env.Payload
				env.Payload = bytes.Replace(orig, []byte("make"), []byte("mAke"), 1)
				if err := env.VerifyKey(s.Key()); err == nil {
					t.Error("verifies over another payload after a check of the first")
				}
				env.Payload = orig
				// Another signature over the same bytes.
				sig := env.Signatures[0].Sig
				env.Signatures[0].Sig = append(bytes.Clone(sig[:len(sig)-1]), sig[len(sig)-1]^1)
				if err := env.VerifyKey(s.Key()); err == nil {
					t.Error("verifies with another signature after a check of the first")
				}
				env.Signatures[0].Sig = sig
				if err := env.VerifyKey(s.Key()); err != nil {
					t.Errorf("restored: %v", err)
				}
			})
		}
	}
}

// ParsedLayout on a memoized envelope parses its payload once, and again
// when the payload is another.
func TestParsedLayoutMemoized(t *testing.T) {
	s := testSigners(t)[attest.KeyTypeEd25519]
	layout := &attest.Layout{Expires: "2030-01-01T00:00:00Z", Keys: map[string]*attest.Key{s.Key().KeyID: s.Key()},
		Steps: []attest.Step{{Name: "build", Threshold: 1, PubKeys: []string{s.Key().KeyID}}}}
	payload, err := layout.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := attest.SignPayload(attest.FormDSSE, payload, s)
	if err != nil {
		t.Fatal(err)
	}
	signed.Memoize(nil)
	a, err := signed.ParsedLayout()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := signed.ParsedLayout(); b != a {
		t.Error("parsed twice")
	}
	signed.Payload = bytes.Replace(payload, []byte(`"build"`), []byte(`"other"`), 1)
	c, err := signed.ParsedLayout()
	if err != nil || c == a || c.Steps[0].Name != "other" {
		t.Errorf("another payload gave the first layout: %v %+v", err, c)
	}
}
