package attest_test

import (
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestNewStatement: a v1 Statement about one image, its predicate kept
// exactly (big numbers too), signed in DSSE and verified with the key.
func TestNewStatement(t *testing.T) {
	digest := "sha256:" + stmtHex
	predicate := []byte("{\n  \"critical\": 0,\n  \"count\": 12345678901234567890,\n  \"tool\": \"<scan>\"\n}\n")
	payload, err := attest.NewStatement("registry.example/app", digest, "https://example.com/vuln/v1", predicate)
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.ParseStatement(payload)
	if err != nil {
		t.Fatal(err)
	}
	if st.Type != attest.StatementTypeV1 || st.PredicateType != "https://example.com/vuln/v1" || len(st.Subject) != 1 ||
		st.Subject[0].Name != "registry.example/app" || !st.NamesDigest(digest) {
		t.Fatalf("%+v", st)
	}
	if got := string(st.Predicate); got != `{"critical":0,"count":12345678901234567890,"tool":"<scan>"}` {
		t.Errorf("predicate %s", got)
	}
	for _, s := range testSigners(t) {
		env, err := attest.SignStatement(payload, s)
		if err != nil {
			t.Fatal(err)
		}
		data, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := attest.ParseEnvelope(data)
		if err != nil {
			t.Fatal(err)
		}
		if back.Form != attest.FormDSSE || back.PayloadType != attest.PayloadType {
			t.Errorf("%s: form %v %q", s.Key().KeyType, back.Form, back.PayloadType)
		}
		if err := back.VerifyKey(s.Key()); err != nil {
			t.Errorf("%s: %v", s.Key().KeyType, err)
		}
		if kind, err := back.PayloadKind(); err != nil || kind != attest.StatementTypeV1 {
			t.Errorf("%s: kind %q %v", s.Key().KeyType, kind, err)
		}
	}
	if _, err := attest.SignStatement(payload); err == nil {
		t.Error("signed with no key")
	}
	if _, err := attest.SignStatement([]byte(`{"_type":"link","name":"x"}`), testSigners(t)[attest.KeyTypeEd25519]); err == nil {
		t.Error("signed a link as a statement")
	}
}

// TestNewStatementRefused: bad subjects, predicate types and predicates
// are refused in one line that says what is wrong.
func TestNewStatementRefused(t *testing.T) {
	digest := "sha256:" + stmtHex
	for _, tc := range []struct {
		name, subject, digest, ptype, predicate, want string
	}{
		{"no name", "", digest, "https://p/v1", `{}`, "name"},
		{"digest without algorithm", "app", stmtHex, "https://p/v1", `{}`, "sha256:"},
		{"uppercase digest", "app", strings.ToUpper(digest), "https://p/v1", `{}`, "lowercase"},
		{"short digest", "app", "sha256:abc", "https://p/v1", `{}`, "64"},
		{"sha512 digest", "app", "sha512:" + stmtHex + stmtHex, "https://p/v1", `{}`, "sha256"},
		{"no predicate type", "app", digest, "", `{}`, "predicate type"},
		{"cosign shorthand", "app", digest, "slsaprovenance", `{}`, "absolute URI"},
		{"predicate type with a space", "app", digest, "https://p/ v1", `{}`, "absolute URI"},
		{"predicate a list", "app", digest, "https://p/v1", `[1]`, "not a JSON object"},
		{"predicate a string", "app", digest, "https://p/v1", `"x"`, "not a JSON object"},
		{"empty predicate", "app", digest, "https://p/v1", ``, "predicate"},
		{"not JSON", "app", digest, "https://p/v1", `{"a":`, "predicate"},
		{"trailing data", "app", digest, "https://p/v1", `{} {}`, "predicate"},
		{"repeated key", "app", digest, "https://p/v1", `{"critical":1,"critical":0}`, "critical"},
		{"not UTF-8", "app", digest, "https://p/v1", "{\"a\":\"\xff\"}", "UTF-8"},
		{"lone surrogate", "app", digest, "https://p/v1", `{"a":"\ud800"}`, "surrogate"},
		{"too deep", "app", digest, "https://p/v1", strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100), "nest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.NewStatement(tc.subject, tc.digest, tc.ptype, []byte(tc.predicate))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
}
