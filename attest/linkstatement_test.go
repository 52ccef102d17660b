package attest_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

const (
	lsHexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	lsHexB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// linkStatement is a link predicate v0.3 Statement as the specification's
// example has it.
const linkStatement = `{"_type":"https://in-toto.io/Statement/v1",
 "subject":[{"name":"app.tar","digest":{"sha256":"` + lsHexA + `"}},{"name":"report.json","digest":{"sha256":"` + lsHexB + `"}}],
 "predicateType":"https://in-toto.io/attestation/link/v0.3",
 "predicate":{"name":"build","command":["make","app.tar"],
  "materials":[{"name":"src/main.go","digest":{"sha256":"` + lsHexB + `"}}],
  "byproducts":{"return-value":0,"stdout":"ok"},"environment":{"ci":"yes"}}}`

// TestLinkStatementIsALink: a Statement with the link predicate reads, through
// ParseLink, as the link it stands for (the specification's conversion),
// and in DSSE its PayloadKind is "link".
func TestLinkStatementIsALink(t *testing.T) {
	l, err := attest.ParseLink([]byte(linkStatement))
	if err != nil {
		t.Fatal(err)
	}
	want := &attest.Link{
		Type:        "link",
		Name:        "build",
		Command:     []string{"make", "app.tar"},
		Materials:   map[string]attest.HashObj{"src/main.go": {"sha256": lsHexB}},
		Products:    map[string]attest.HashObj{"app.tar": {"sha256": lsHexA}, "report.json": {"sha256": lsHexB}},
		Byproducts:  map[string]any{"return-value": float64(0), "stdout": "ok"},
		Environment: map[string]any{"ci": "yes"},
	}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("got %+v\nwant %+v", l, want)
	}
	// Witness writes Statement v0.1 around the same predicate.
	if l, err := attest.ParseLink([]byte(strings.Replace(linkStatement, "Statement/v1", "Statement/v0.1", 1))); err != nil || l.Name != "build" {
		t.Fatalf("v0.1: %v %+v", err, l)
	}
	// The minimal link statement: a name and a subject.
	min := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + lsHexA + `"}}],"predicateType":"https://in-toto.io/attestation/link/v0.3","predicate":{"name":"s"}}`
	if l, err := attest.ParseLink([]byte(min)); err != nil || len(l.Materials) != 0 || l.Materials == nil || len(l.Products) != 1 {
		t.Fatalf("minimal: %v %+v", err, l)
	}

	s := testSigners(t)[attest.KeyTypeEd25519]
	env, err := attest.SignPayload(attest.FormDSSE, []byte(linkStatement), s)
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
	if kind, err := back.PayloadKind(); err != nil || kind != "link" {
		t.Fatalf("PayloadKind: %q %v", kind, err)
	}
	if err := back.VerifyKey(s.Key()); err != nil {
		t.Fatal(err)
	}
	// Another statement stays a statement, a Metablock around a link
	// statement is no link.
	other := strings.Replace(linkStatement, attest.PredicateTypeLink, "https://slsa.dev/provenance/v1", 1)
	for name, e := range map[string]*attest.Envelope{
		"other predicate": attest.NewEnvelope(attest.FormDSSE, []byte(other)),
		"metablock":       attest.NewEnvelope(attest.FormMetablock, []byte(linkStatement)),
	} {
		if kind, err := e.PayloadKind(); err != nil || kind != attest.StatementTypeV1 {
			t.Errorf("%s: PayloadKind %q %v, want the statement type", name, kind, err)
		}
	}
}

// TestLinkStatementRefused: link statements that do not make a link, or
// that could be read two ways, are refused in one line naming the problem.
func TestLinkStatementRefused(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"no name", `"name":"build",`, ``, "no name"},
		{"subject without name", `{"name":"app.tar",`, `{`, "subject[0] has no name"},
		{"subject named twice", `"name":"report.json"`, `"name":"app.tar"`, `"app.tar" is named twice`},
		{"material without digest", `{"name":"src/main.go","digest":{"sha256":"` + lsHexB + `"}}`, `{"name":"src/main.go"}`, "materials[0]"},
		{"material named twice", `"materials":[{"name":"src/main.go","digest":{"sha256":"` + lsHexB + `"}}]`, `"materials":[{"name":"x","digest":{"sha256":"` + lsHexB + `"}},{"name":"x","digest":{"sha256":"` + lsHexA + `"}}]`, `"x" is named twice`},
		{"unclean path", `"name":"app.tar"`, `"name":"./app.tar"`, "not normalised"},
		{"digest not hex", `"sha256":"` + lsHexA + `"`, `"sha256":"zz"`, "hex"},
		{"products in the predicate", `"name":"build",`, `"name":"build","products":{},`, "products"},
		{"case variant in the predicate", `"name":"build",`, `"name":"build","Name":"deploy",`, "Name"},
		{"repeated key in the predicate", `"name":"build",`, `"name":"deploy","name":"build",`, "name"},
		{"command not a list", `"command":["make","app.tar"]`, `"command":"make"`, "command"},
		{"predicate not an object", `"predicate":{"name"`, `"predicate":[],"x":{"name"`, "predicate"},
		{"no predicate", `"predicate":{"name"`, `"x":{"name"`, "no predicate"},
		{"no subject", `"subject":[{"name":"app.tar","digest":{"sha256":"` + lsHexA + `"}},{"name":"report.json","digest":{"sha256":"` + lsHexB + `"}}]`, `"subject":[]`, "subject"},
		{"case variant of predicateType", `"predicateType":`, `"PredicateType":"x","predicateType":`, "PredicateType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(linkStatement, tc.old) {
				t.Fatalf("test: %q not in the statement", tc.old)
			}
			doc := strings.Replace(linkStatement, tc.old, tc.new, 1)
			_, err := attest.ParseLink([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
		})
	}
}

// TestLinkAsStatement: Link.Statement writes what ParseLink reads back as
// the same link; a link without products cannot be one.
func TestLinkAsStatement(t *testing.T) {
	l := &attest.Link{
		Type: "link", Name: "build", Command: []string{"make"},
		Materials:   map[string]attest.HashObj{"b.go": {"sha256": lsHexB}, "a.go": {"sha256": lsHexA}},
		Products:    map[string]attest.HashObj{"app": {"sha256": lsHexA, "sha512": lsHexA + lsHexB}},
		Byproducts:  map[string]any{"return-value": float64(0)},
		Environment: map[string]any{},
	}
	payload, err := l.Statement()
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.ParseStatement(payload)
	if err != nil || st.PredicateType != attest.PredicateTypeLink || st.Type != attest.StatementTypeV1 || !st.NamesDigest("sha256:"+lsHexA) {
		t.Fatalf("%v %+v", err, st)
	}
	back, err := attest.ParseLink(payload)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, l) {
		t.Fatalf("round trip: got %+v, want %+v", back, l)
	}
	if _, err := (&attest.Link{Name: "s"}).Statement(); err == nil || !strings.Contains(err.Error(), "no products") {
		t.Errorf("no products: %v", err)
	}
	if _, err := (&attest.Link{Name: "s", Products: map[string]attest.HashObj{"../x": {"sha256": lsHexA}}}).Statement(); err == nil {
		t.Error("unclean path accepted")
	}
}

// TestLinkStatementVerifies: the engine takes a link statement in DSSE as
// the link of its step: the layout's rules apply to the subjects as
// products, and signatures are checked as for any link.
func TestLinkStatementVerifies(t *testing.T) {
	owner := testSigners(t)[attest.KeyTypeEd25519]
	builder := testSigners(t)[attest.KeyTypeECDSA]
	create, _ := attest.ParseRuleString("CREATE app")
	closed, _ := attest.ParseRuleString("DISALLOW *")
	layout := attest.Layout{
		Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat),
		Keys:    map[string]*attest.Key{builder.Key().KeyID: builder.Key()},
		Steps: []attest.Step{{Name: "build", Threshold: 1, PubKeys: []string{builder.Key().KeyID},
			ExpectedProducts: [][]string{create.Tokens(), closed.Tokens()}}},
	}
	payload, err := layout.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	layoutEnv, err := attest.SignPayload(attest.FormDSSE, payload, owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		products map[string]attest.HashObj
		signer   *attest.Signer
		want     string
	}{
		{"as the layout says", map[string]attest.HashObj{"app": {"sha256": lsHexA}}, builder, ""},
		{"an extra product", map[string]attest.HashObj{"app": {"sha256": lsHexA}, "backdoor": {"sha256": lsHexB}}, builder, "backdoor"},
		{"signed by another key", map[string]attest.HashObj{"app": {"sha256": lsHexA}}, owner, "build"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := (&attest.Link{Name: "build", Products: tc.products}).Statement()
			if err != nil {
				t.Fatal(err)
			}
			env, err := attest.SignPayload(attest.FormDSSE, st, tc.signer)
			if err != nil {
				t.Fatal(err)
			}
			_, err = verify.Verify(context.Background(), verify.Evidence{Source: "root.layout", Envelope: layoutEnv},
				[]verify.Evidence{{Source: "build.link", Envelope: env}}, verify.Options{LayoutKeys: []*attest.Key{owner.Key()}})
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
