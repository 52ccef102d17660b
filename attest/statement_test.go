package attest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

const stmtHex = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// TestParseStatement: v1 and v0.1 statements read with their predicate
// bytes as they arrived; malformed and hostile ones are refused with one
// line naming the problem.
func TestParseStatement(t *testing.T) {
	good := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app","digest":{"sha256":"` + stmtHex + `"}}],"predicateType":"https://example.com/scan/v1","predicate":{"count":12345678901234567890,"x":"https://in-toto.io/Statement/v0.1"}}`
	s, err := attest.ParseStatement([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if s.PredicateType != "https://example.com/scan/v1" || !strings.Contains(string(s.Predicate), "12345678901234567890") || len(s.Subject) != 1 || s.Subject[0].Name != "app" {
		t.Fatalf("%+v", s)
	}
	if !s.NamesDigest("sha256:"+stmtHex) || s.NamesDigest("sha256:"+strings.Repeat("b", 64)) || s.NamesDigest(stmtHex) {
		t.Error("NamesDigest")
	}
	if err := s.RequireSubject("sha256:" + strings.Repeat("b", 64)); !errors.Is(err, attest.ErrOtherSubject) {
		t.Errorf("RequireSubject: %v", err)
	}
	old := strings.Replace(good, "Statement/v1", "Statement/v0.1", 1)
	if s, err := attest.ParseStatement([]byte(old)); err != nil || s.Type != attest.StatementTypeV01 || !s.NamesDigest("sha256:"+stmtHex) {
		t.Fatalf("v0.1: %v %+v", err, s)
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"not JSON", `{`, "statement"},
		{"another type", strings.Replace(good, "https://in-toto.io/Statement/v1", "https://example.com/Statement", 1), "not an in-toto Statement"},
		{"no subject", `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p","predicate":{}}`, "subject"},
		{"subject without digest", `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{}}],"predicateType":"p","predicate":{}}`, "digest"},
		{"no predicate type", `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + stmtHex + `"}}],"predicate":{}}`, "predicate"},
		{"repeated key", strings.Replace(good, `"predicateType":`, `"predicateType":"https://example.com/other","predicateType":`, 1), "predicateType"},
		{"case variant", strings.Replace(good, `"predicate":`, `"Predicate":{},"predicate":`, 1), "predicate"},
		{"no predicate", `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + stmtHex + `"}}],"predicateType":"p"}`, "predicate object required"},
		{"null predicate", `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + stmtHex + `"}}],"predicateType":"p","predicate":null}`, "predicate object required"},
		{"array predicate", `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + stmtHex + `"}}],"predicateType":"p","predicate":[1]}`, "predicate object required"},
		{"digest not hex", strings.Replace(good, stmtHex, strings.Repeat("z", 64), 1), "hex"},
		{"digest too short", strings.Replace(good, stmtHex, "abcd", 1), "length"},
		{"digest not a string", strings.Replace(good, `"`+stmtHex+`"`, "1", 1), "subject"},
		{"subject not an object", strings.Replace(good, `[{"name":"app","digest":{"sha256":"`+stmtHex+`"}}]`, `["app"]`, 1), "subject"},
		{"v0.1 without digest", strings.Replace(strings.Replace(good, "Statement/v1", "Statement/v0.1", 1), `"sha256":"`+stmtHex+`"`, "", 1), "digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.ParseStatement([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
}

// bigStatement returns a v1 statement whose predicate is an array of n
// numbers: about 2n bytes.
func bigStatement(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app","digest":{"sha256":"` + stmtHex + `"}}],"predicateType":"https://example.com/scan/v1","predicate":{"a":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('1')
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// BenchmarkParseStatementLarge parses a 10 MB statement (a 5M-element
// predicate), the size of the review's junk attestations.
func BenchmarkParseStatementLarge(b *testing.B) {
	doc := bigStatement(5 << 20)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := attest.ParseStatement(doc); err != nil {
			b.Fatal(err)
		}
	}
}
