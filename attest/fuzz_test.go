package attest_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/referee-dev/referee/attest"
)

// The seed corpora are in testdata/fuzz/FuzzX/: peer fixtures, referee's
// own output and hostile inputs (truncated JSON, deep nesting, wrong
// types), plus any input a fuzzer once failed on.

func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"signed":{"_type":"link","name":"a"},"signatures":[{"keyid":"ab","sig":"00"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := attest.ParseEnvelope(data)
		if err != nil {
			if env != nil {
				t.Fatal("envelope and error")
			}
			return
		}
		if env.Form != attest.FormDSSE && env.Form != attest.FormMetablock {
			t.Fatalf("form %v", env.Form)
		}
		if env.Form == attest.FormDSSE && env.PayloadType != attest.PayloadType {
			t.Fatalf("DSSE payloadType %q accepted", env.PayloadType)
		}
		if len(env.Signatures) > 64 {
			t.Fatalf("%d signatures accepted", len(env.Signatures))
		}
		// What was accepted is UTF-8 and read without replacement.
		readExactly(t, data)
		if env.Form == attest.FormDSSE {
			readExactly(t, env.Payload)
		}
		// Whatever the payload, these must not panic.
		signed, signedErr := env.SignedBytes()
		if kind, err := env.PayloadKind(); err == nil {
			switch kind {
			case "layout":
				_, _ = attest.ParseLayout(env.Payload)
			case "link":
				_, _ = attest.ParseLink(env.Payload)
			}
		}
		// It re-encodes, and the encoding parses to the same document.
		out, err := env.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := attest.ParseEnvelope(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if back.Form != env.Form || back.PayloadType != env.PayloadType {
			t.Fatalf("form/type changed: %v %q -> %v %q", env.Form, env.PayloadType, back.Form, back.PayloadType)
		}
		if !reflect.DeepEqual(normSigs(back.Signatures), normSigs(env.Signatures)) {
			t.Fatalf("signatures changed: %v -> %v", env.Signatures, back.Signatures)
		}
		switch env.Form {
		case attest.FormDSSE:
			if !bytes.Equal(back.Payload, env.Payload) {
				t.Fatalf("DSSE payload changed: %q -> %q", env.Payload, back.Payload)
			}
		case attest.FormMetablock:
			// Only whitespace may change, which the signed bytes ignore.
			c1, e1 := attest.CanonicalJSON(env.Payload)
			c2, e2 := attest.CanonicalJSON(back.Payload)
			if (e1 == nil) != (e2 == nil) || !bytes.Equal(c1, c2) {
				t.Fatalf("metablock signed bytes changed: %q (%v) -> %q (%v)", c1, e1, c2, e2)
			}
		}
		signed2, signedErr2 := back.SignedBytes()
		if (signedErr == nil) != (signedErr2 == nil) || !bytes.Equal(signed, signed2) {
			t.Fatalf("signed bytes changed: %v %v", signedErr, signedErr2)
		}
	})
}

// readExactly fails unless data is UTF-8 and decoding it replaced nothing
// with U+FFFD (as Go does for invalid bytes and lone surrogate escapes).
func readExactly(t *testing.T, data []byte) {
	t.Helper()
	if !utf8.Valid(data) {
		t.Fatalf("accepted invalid UTF-8: %q", data)
	}
	if bytes.Contains(data, []byte("\uFFFD")) || bytes.Contains(data, []byte("\ufffd")) || bytes.ContainsRune(data, utf8.RuneError) {
		return // U+FFFD is in the document itself
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		return
	}
	if out, _ := json.Marshal(v); bytes.ContainsRune(out, utf8.RuneError) {
		t.Fatalf("accepted a document read with U+FFFD: %q", data)
	}
}

// exactFields fails unless every top-level field of data is one of fields,
// spelled exactly.
func exactFields(t *testing.T, data []byte, fields ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		t.Fatalf("accepted a document that is not an object: %q", data)
	}
	for k := range m {
		if !slices.Contains(fields, k) {
			t.Fatalf("accepted field %q: %q", k, data)
		}
	}
}

// normSigs treats a nil and an empty signature alike.
func normSigs(sigs []attest.Signature) []attest.Signature {
	out := make([]attest.Signature, len(sigs))
	for i, s := range sigs {
		out[i] = attest.Signature{KeyID: s.KeyID, Sig: append([]byte{}, s.Sig...)}
	}
	return out
}

var (
	fuzzKeyOnce sync.Once
	fuzzKey     *attest.Key
)

// fixedKey is one ed25519 public key (of the Python fixture), so that spec
// fuzzing does not read files.
func fixedKey(t testing.TB) *attest.Key {
	fuzzKeyOnce.Do(func() {
		k, err := attest.ParsePublicKey([]byte(`{"keytype": "ed25519", "scheme": "ed25519", "keyid_hash_algorithms": ["sha256", "sha512"], "keyval": {"public": "07ac9fe58a9d33e940c4a19fe264f344c2a3a176cae4f01de4e0fa455188c864"}}`))
		if err != nil {
			panic(err)
		}
		fuzzKey = k
	})
	return fuzzKey
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(goodSpec))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := attest.ParseSpec(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if spec.Expires == "" {
			t.Fatal("spec without expires accepted")
		}
		// Every rule was checked.
		for _, st := range append(append([]attest.SpecStep{}, spec.Steps...), spec.Sublayouts...) {
			for _, r := range append(append([]string{}, st.ExpectedMaterials...), st.ExpectedProducts...) {
				if _, err := attest.ParseRuleString(r); err != nil {
					t.Fatalf("accepted rule %q: %v", r, err)
				}
			}
		}
		key := fixedKey(t)
		l, err := spec.Layout(func(string) (*attest.Key, error) { return key, nil }, now)
		if err != nil {
			return
		}
		// A layout built from a spec is valid, and stable through its
		// encoding.
		if exp, err := l.ExpiresAt(); err != nil || !exp.After(now) {
			t.Fatalf("expires %q: %v", l.Expires, err)
		}
		p1, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a layout from a spec: %v", err)
		}
		back, err := attest.ParseLayout(p1)
		if err != nil {
			t.Fatalf("ParseLayout of a layout from a spec: %v\n%s", err, p1)
		}
		p2, err := back.Marshal()
		if err != nil || !bytes.Equal(p1, p2) {
			t.Fatalf("layout not stable: %v\n%s\n%s", err, p1, p2)
		}
	})
}

func FuzzParseRule(f *testing.F) {
	f.Add("MATCH * IN a WITH PRODUCTS IN b FROM c")
	f.Fuzz(func(t *testing.T, s string) {
		checkRule := func(tokens []string) {
			r, err := attest.ParseRule(tokens)
			if err != nil {
				return
			}
			switch r.Verb {
			case attest.RuleAllow, attest.RuleDisallow, attest.RuleRequire, attest.RuleCreate, attest.RuleDelete, attest.RuleModify:
				if r.SrcPrefix != "" || r.DstPrefix != "" || r.DstType != "" || r.DstStep != "" {
					t.Fatalf("%q: %+v", tokens, r)
				}
			case attest.RuleMatch:
				if (r.DstType != attest.Materials && r.DstType != attest.Products) || r.DstStep == "" {
					t.Fatalf("%q: %+v", tokens, r)
				}
			default:
				t.Fatalf("%q: verb %q", tokens, r.Verb)
			}
			if r.Pattern == "" {
				t.Fatalf("%q: empty pattern", tokens)
			}
			again, err := attest.ParseRule(r.Tokens())
			if err != nil || again != r {
				t.Fatalf("ParseRule(%q) = %+v; ParseRule(Tokens %q) = %+v, %v", tokens, r, r.Tokens(), again, err)
			}
		}
		// As one line (spec form) and as tokens split on '|' (layout form,
		// where words may be empty or hold spaces).
		checkRule(strings.Fields(s))
		checkRule(strings.Split(s, "|"))
		if r, err := attest.ParseRuleString(s); err == nil {
			again, err := attest.ParseRuleString(r.String())
			if err != nil || again != r {
				t.Fatalf("ParseRuleString(%q) = %+v; of its String %q: %+v, %v", s, r, r.String(), again, err)
			}
		}
	})
}

func FuzzParseLayout(f *testing.F) {
	f.Add([]byte(`{"_type":"layout","expires":"2030-01-01T00:00:00Z","keys":{},"steps":[],"inspect":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if agree, fast, std := attest.LayoutDecodings(data); !agree {
			t.Fatalf("json/v1 and encoding/json disagree (errors: %v; %v)", fast, std)
		}
		l, err := attest.ParseLayout(data)
		if err != nil {
			return
		}
		readExactly(t, data)
		exactFields(t, data, "_type", "expires", "readme", "keys", "steps", "inspect")
		p1, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed layout: %v", err)
		}
		back, err := attest.ParseLayout(p1)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, p1)
		}
		p2, err := back.Marshal()
		if err != nil || !bytes.Equal(p1, p2) {
			t.Fatalf("layout not stable: %v\n%s\n%s", err, p1, p2)
		}
		if !reflect.DeepEqual(back.KeyIDs(), l.KeyIDs()) {
			t.Fatalf("keys changed: %v -> %v", l.KeyIDs(), back.KeyIDs())
		}
	})
}

func FuzzParseLink(f *testing.F) {
	f.Add([]byte(testLinkPayload))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := attest.ParseLink(data)
		if err != nil {
			return
		}
		readExactly(t, data)
		exactFields(t, data, "_type", "name", "command", "materials", "products", "byproducts", "environment")
		p1, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed link: %v", err)
		}
		back, err := attest.ParseLink(p1)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, p1)
		}
		p2, err := back.Marshal()
		if err != nil || !bytes.Equal(p1, p2) {
			t.Fatalf("link not stable: %v\n%s\n%s", err, p1, p2)
		}
		if !reflect.DeepEqual(back.Materials, l.Materials) || !reflect.DeepEqual(back.Products, l.Products) {
			t.Fatal("artifacts changed")
		}
	})
}
