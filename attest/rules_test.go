package attest_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want attest.Rule
	}{
		{"ALLOW *", attest.Rule{Verb: "ALLOW", Pattern: "*"}},
		{"DISALLOW *.tmp", attest.Rule{Verb: "DISALLOW", Pattern: "*.tmp"}},
		{"REQUIRE foo.py", attest.Rule{Verb: "REQUIRE", Pattern: "foo.py"}},
		{"CREATE out/*", attest.Rule{Verb: "CREATE", Pattern: "out/*"}},
		{"DELETE tmp", attest.Rule{Verb: "DELETE", Pattern: "tmp"}},
		{"MODIFY src/*", attest.Rule{Verb: "MODIFY", Pattern: "src/*"}},
		{"allow x", attest.Rule{Verb: "ALLOW", Pattern: "x"}},
		{"MATCH * WITH PRODUCTS FROM checkout", attest.Rule{Verb: "MATCH", Pattern: "*", DstType: "PRODUCTS", DstStep: "checkout"}},
		{"MATCH * WITH MATERIALS FROM build", attest.Rule{Verb: "MATCH", Pattern: "*", DstType: "MATERIALS", DstStep: "build"}},
		{"MATCH *.py IN src WITH PRODUCTS FROM checkout", attest.Rule{Verb: "MATCH", Pattern: "*.py", SrcPrefix: "src", DstType: "PRODUCTS", DstStep: "checkout"}},
		{"MATCH *.py WITH PRODUCTS IN repo/src FROM checkout", attest.Rule{Verb: "MATCH", Pattern: "*.py", DstType: "PRODUCTS", DstPrefix: "repo/src", DstStep: "checkout"}},
		{"MATCH *.py IN a WITH MATERIALS IN b FROM s", attest.Rule{Verb: "MATCH", Pattern: "*.py", SrcPrefix: "a", DstType: "MATERIALS", DstPrefix: "b", DstStep: "s"}},
		{"match *.py in a with products in b from s", attest.Rule{Verb: "MATCH", Pattern: "*.py", SrcPrefix: "a", DstType: "PRODUCTS", DstPrefix: "b", DstStep: "s"}},
		{"Match x With Materials From s", attest.Rule{Verb: "MATCH", Pattern: "x", DstType: "MATERIALS", DstStep: "s"}},
		// Patterns and step names keep their case; only keywords fold.
		{"MATCH IN WITH PRODUCTS FROM From", attest.Rule{Verb: "MATCH", Pattern: "IN", DstType: "PRODUCTS", DstStep: "From"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := attest.ParseRuleString(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			// The token form round-trips.
			again, err := attest.ParseRule(got.Tokens())
			if err != nil || again != got {
				t.Fatalf("ParseRule(%q) = %+v, %v", got.Tokens(), again, err)
			}
			if got.String() != strings.Join(got.Tokens(), " ") {
				t.Fatalf("String %q", got.String())
			}
		})
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, "empty rule"},
		{[]string{"MACTH", "*", "WITH", "PRODUCTS", "FROM", "a"}, `unknown verb "MACTH"`},
		{[]string{"ALOW", "*"}, `unknown verb "ALOW"`},
		{[]string{"ALLOW"}, "exactly one pattern"},
		{[]string{"ALLOW", "a", "b"}, "exactly one pattern"},
		{[]string{"CREATE", "a", "extra"}, "exactly one pattern"},
		{[]string{"ALLOW", ""}, "empty word"},
		{[]string{"MATCH"}, "needs a pattern"},
		{[]string{"MATCH", "*"}, "expected WITH"},
		{[]string{"MATCH", "*", "IN"}, "IN needs a path prefix"},
		{[]string{"MATCH", "*", "IN", "src"}, "expected WITH"},
		{[]string{"MATCH", "*", "WTIH", "PRODUCTS", "FROM", "a"}, "expected WITH"},
		{[]string{"MATCH", "*", "WITH", "ARTIFACTS", "FROM", "a"}, "MATERIALS or PRODUCTS"},
		{[]string{"MATCH", "*", "WITH", "PRODUCTS"}, "expected FROM"},
		{[]string{"MATCH", "*", "WITH", "PRODUCTS", "a"}, "expected FROM"},
		{[]string{"MATCH", "*", "WITH", "PRODUCTS", "IN"}, "IN needs a path prefix"},
		{[]string{"MATCH", "*", "WITH", "PRODUCTS", "FROM"}, "FROM needs a step name"},
		{[]string{"MATCH", "*", "WITH", "PRODUCTS", "FROM", "a", "b"}, "unexpected words"},
		{[]string{"MATCH", "*", "IN", "", "WITH", "PRODUCTS", "FROM", "a"}, "empty word"},
		{strings.Fields("MATCH * IN a WITH PRODUCTS IN b FROM c d e"), "too many words"},
	} {
		t.Run(strings.Join(tc.in, " "), func(t *testing.T) {
			_, err := attest.ParseRule(tc.in)
			wantErr(t, err, tc.want)
			if !errors.Is(err, attest.ErrBadRule) {
				t.Errorf("%v is not ErrBadRule", err)
			}
		})
	}
}

func TestRuleTokensCanonical(t *testing.T) {
	r, err := attest.ParseRuleString("match x in a with materials in b from s")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"MATCH", "x", "IN", "a", "WITH", "MATERIALS", "IN", "b", "FROM", "s"}
	if !reflect.DeepEqual(r.Tokens(), want) {
		t.Fatalf("Tokens %q, want %q", r.Tokens(), want)
	}
}
