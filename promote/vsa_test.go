package promote_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/promote"
)

const vsaImage = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func vsaStatement(t *testing.T) map[string]any {
	t.Helper()
	s := promote.Summary{
		Image:       vsaImage,
		ResourceURI: "registry.example/app@" + vsaImage,
		Layout:      "sha256:" + strings.Repeat("b", 64),
		LayoutURI:   "registry.example/app@sha256:" + strings.Repeat("c", 64),
		Result:      "PASSED",
		Levels:      []string{"SLSA_BUILD_LEVEL_1"},
		Time:        time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Verifier:    promote.VerifierID,
		Inputs:      []string{"sha256:" + strings.Repeat("d", 64)},
	}
	payload, err := s.Statement()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at follows path (keys and list indexes) in a generic JSON value.
func at(v any, path ...any) map[string]any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			v = v.(map[string]any)[p]
		case int:
			v = v.([]any)[p]
		}
	}
	return v.(map[string]any)
}

// parseSigned reads payload as promote reads a VSA: from a signed DSSE
// envelope, then ParseSummary.
func parseSigned(t *testing.T, payload []byte) error {
	t.Helper()
	s, _ := attest.GenerateKey("")
	env, err := attest.SignPayload(attest.FormDSSE, payload, s)
	if err != nil {
		return err
	}
	back, err := attest.ParseEnvelope(mustMarshal(t, env))
	if err != nil {
		return err
	}
	if err := back.VerifyKey(s.Key()); err != nil {
		t.Fatal(err)
	}
	_, err = promote.ParseSummary(back.Payload, vsaImage)
	return err
}

func mustMarshal(t *testing.T, env *attest.Envelope) []byte {
	t.Helper()
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func variants(key string) []string {
	var out []string
	add := func(v string) {
		if v != key && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	add(strings.ToUpper(key))
	if i := strings.IndexFunc(key, unicode.IsLetter); i >= 0 {
		add(key[:i] + strings.ToUpper(key[i:i+1]) + key[i+1:])
	}
	add(strings.Replace(key, "s", "\u017f", 1)) // sorts after key: the variant comes second
	add(strings.Replace(key, "k", "\u212a", 1))
	return out
}

// TestSummaryCaseVariantsRefused: every field of a VSA Statement, its
// subject, the predicate and the predicate's objects, repeated in another
// case, is refused with a message naming both, and digest algorithms that
// differ only in case are refused: protobuf's reader would take one, a
// case-folding reader the other.
func TestSummaryCaseVariantsRefused(t *testing.T) {
	honest := vsaStatement(t)
	if err := parseSigned(t, mustJSON(t, honest)); err != nil {
		t.Fatalf("the honest statement: %v", err)
	}
	checked := 0
	for _, place := range [][]any{{}, {"subject", 0}, {"predicate"}, {"predicate", "verifier"}, {"predicate", "policy"}, {"predicate", "inputAttestations", 0}} {
		for key := range at(honest, place...) {
			for _, variant := range variants(key) {
				st := vsaStatement(t)
				o := at(st, place...)
				o[variant] = o[key]
				err := parseSigned(t, mustJSON(t, st))
				checked++
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("field %q", variant)) || !strings.Contains(err.Error(), fmt.Sprintf("differs from %q only in case", key)) {
					t.Errorf("%v %s/%s: %v", place, key, variant, err)
				}
			}
		}
	}
	for _, place := range [][]any{{"subject", 0, "digest"}, {"predicate", "policy", "digest"}, {"predicate", "inputAttestations", 0, "digest"}} {
		st := vsaStatement(t)
		at(st, place...)["SHA256"] = strings.Repeat("e", 64)
		err := parseSigned(t, mustJSON(t, st))
		if err == nil || !strings.Contains(err.Error(), `"SHA256" and "sha256", which differ only in case`) {
			t.Errorf("%v: %v", place, err)
		}
	}
	if checked < 30 {
		t.Fatalf("only %d variants checked", checked)
	}
}

// TestSummarySpellings: protobuf's JSON reader also takes a field's proto
// name, which other readers do not: refused. Unknown (extension) fields
// are ignored, as the attestation framework's parsing rules say.
func TestSummarySpellings(t *testing.T) {
	for _, tc := range []struct {
		place      []any
		from, to   string
		want       string
		addNotMove bool
	}{
		{nil, "predicateType", "predicate_type", `field "predicate_type" is another spelling of "predicateType"`, false},
		{nil, "_type", "type", `field "type" is another spelling of "_type"`, true},
		{[]any{"predicate"}, "timeVerified", "time_verified", `field "time_verified" in predicate is another spelling of "timeVerified"`, false},
		{[]any{"predicate"}, "resourceUri", "resource_uri", `field "resource_uri" in predicate is another spelling of "resourceUri"`, false},
		{[]any{"predicate"}, "verificationResult", "verification_result", `is another spelling of "verificationResult"`, false},
		{[]any{"predicate"}, "verifiedLevels", "VERIFIED_LEVELS", `is another spelling of "verifiedLevels"`, false},
	} {
		st := vsaStatement(t)
		o := at(st, tc.place...)
		o[tc.to] = o[tc.from]
		if !tc.addNotMove {
			delete(o, tc.from)
		}
		err := parseSigned(t, mustJSON(t, st))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.to, err)
		}
	}
	for _, place := range [][]any{{}, {"subject", 0}, {"predicate"}, {"predicate", "verifier"}, {"predicate", "policy"}} {
		st := vsaStatement(t)
		at(st, place...)["x-example.com/note"] = map[string]any{"any": []any{1.0}}
		if err := parseSigned(t, mustJSON(t, st)); err != nil {
			t.Errorf("extension field at %v: %v", place, err)
		}
	}
	st := vsaStatement(t)
	at(st, "predicate", "verifier")["version"] = map[string]any{"referee": "1"}
	if err := parseSigned(t, mustJSON(t, st)); err != nil {
		t.Errorf("verifier.version: %v", err)
	}
}

// TestSummaryEncoding: a statement that is not UTF-8, or escapes a lone
// surrogate, is refused with the offset.
func TestSummaryEncoding(t *testing.T) {
	payload := string(mustJSON(t, vsaStatement(t)))
	for _, tc := range []struct{ old, new, want string }{
		{`"PASSED"`, "\"PASS\xffED\"", "invalid UTF-8 at byte"},
		{`"PASSED"`, "\"PASS\xed\xa0\x80ED\"", "invalid UTF-8 at byte"},
		{`"PASSED"`, `"PASS\ud800ED"`, `\ud800 at byte`},
		{`"predicateType"`, `"predicate\udc00Type"`, `\udc00 at byte`},
	} {
		hostile := strings.Replace(payload, tc.old, tc.new, 1)
		_, err := promote.ParseSummary([]byte(hostile), vsaImage)
		off := strings.Index(hostile, tc.new) + 5
		if tc.old == `"predicateType"` {
			off = strings.Index(hostile, tc.new) + 10
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("byte %d", off)) {
			t.Errorf("%q: %v (want byte %d)", tc.new, err, off)
		}
		if err := parseSigned(t, []byte(hostile)); err == nil {
			t.Errorf("%q: accepted in an envelope", tc.new)
		}
	}
	dup := strings.Replace(payload, `"predicateType"`, `"predicateType":"x","predicateType"`, 1)
	if _, err := promote.ParseSummary([]byte(dup), vsaImage); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("repeated key: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
