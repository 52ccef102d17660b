package attest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// layoutFixture returns a valid layout payload as a generic map, to be
// broken one field at a time.
func layoutFixture(t *testing.T) map[string]any {
	t.Helper()
	k := testSigners(t)["ed25519"].Key()
	l := &attest.Layout{
		Expires: "2030-01-01T00:00:00Z",
		Keys:    map[string]*attest.Key{k.KeyID: k},
		Steps: []attest.Step{
			{Name: "checkout", Threshold: 1, PubKeys: []string{k.KeyID}, ExpectedProducts: [][]string{{"CREATE", "*"}}},
			{Name: "build", Threshold: 1, PubKeys: []string{k.KeyID}, ExpectedMaterials: [][]string{{"MATCH", "*", "WITH", "PRODUCTS", "FROM", "checkout"}}},
		},
		Inspect: []attest.Inspection{{Name: "look", Run: []string{"ls"}}},
	}
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseLayout(t *testing.T) {
	m := layoutFixture(t)
	l, err := attest.ParseLayout(mustJSON(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Steps) != 2 || l.Step("build") == nil || l.Step("nope") != nil || len(l.Inspect) != 1 {
		t.Fatalf("layout %+v", l)
	}
	if exp, err := l.ExpiresAt(); err != nil || exp.Year() != 2030 {
		t.Fatalf("ExpiresAt %v %v", exp, err)
	}
	k := testSigners(t)["ed25519"].Key()
	if got := l.Keys[k.KeyID]; got == nil || got.Public() == nil {
		t.Fatalf("key %s not parsed", k.KeyID)
	}
}

func TestParseLayoutErrors(t *testing.T) {
	ed := testSigners(t)["ed25519"].Key()
	ec := testSigners(t)["ecdsa"].Key()
	steps := func(m map[string]any) []any { return m["steps"].([]any) }
	step := func(m map[string]any, i int) map[string]any { return steps(m)[i].(map[string]any) }
	for _, tc := range []struct {
		name   string
		mutate func(m map[string]any)
		want   []string
	}{
		{"wrong _type", func(m map[string]any) { m["_type"] = "link" }, []string{`_type is "link"`}},
		{"no _type", func(m map[string]any) { delete(m, "_type") }, []string{`_type is ""`}},
		{"bad expires", func(m map[string]any) { m["expires"] = "next year" }, []string{`expires "next year"`}},
		{"expires wrong type", func(m map[string]any) { m["expires"] = 5 }, []string{"layout", "expires"}},
		{"threshold 0", func(m map[string]any) { step(m, 0)["threshold"] = 0 }, []string{`step "checkout"`, "threshold 0 is below 1"}},
		{"threshold above keys", func(m map[string]any) {
			step(m, 0)["threshold"] = 2
			step(m, 0)["pubkeys"] = []any{ed.KeyID, ed.KeyID}
		}, []string{`step "checkout"`, "threshold 2 is more than its 1 distinct"}},
		{"pubkey not in keys", func(m map[string]any) { step(m, 1)["pubkeys"] = []any{ec.KeyID} }, []string{`step "build"`, ec.KeyID, "not in the layout's keys"}},
		{"key under wrong keyid", func(m map[string]any) {
			keys := m["keys"].(map[string]any)
			keys[ec.KeyID] = keys[ed.KeyID]
			delete(keys, ed.KeyID)
			step(m, 0)["pubkeys"] = []any{ec.KeyID}
			step(m, 1)["pubkeys"] = []any{ec.KeyID}
		}, []string{"listed as " + ec.ShortID(), ed.KeyID}},
		{"key claims other keyid", func(m map[string]any) {
			m["keys"].(map[string]any)[ed.KeyID].(map[string]any)["keyid"] = ec.KeyID
		}, []string{"says its keyid is " + ec.KeyID}},
		{"key unknown type", func(m map[string]any) {
			m["keys"].(map[string]any)[ed.KeyID].(map[string]any)["keytype"] = "dsa"
		}, []string{"unknown key type", `"dsa"`}},
		{"duplicate step names", func(m map[string]any) { step(m, 1)["name"] = "checkout" }, []string{`step "checkout"`, "already used by a step"}},
		{"inspection named like a step", func(m map[string]any) {
			m["inspect"].([]any)[0].(map[string]any)["name"] = "build"
		}, []string{`inspection "build"`, "already used by a step"}},
		{"unnamed step", func(m map[string]any) { step(m, 0)["name"] = "" }, []string{"a step has no name"}},
		{"wrong step _type", func(m map[string]any) { step(m, 0)["_type"] = "inspection" }, []string{`step 0 ("checkout")`, `_type is "inspection"`}},
		{"wrong inspection _type", func(m map[string]any) {
			m["inspect"].([]any)[0].(map[string]any)["_type"] = "step"
		}, []string{`inspection 0 ("look")`}},
		{"MATCH FROM unknown step", func(m map[string]any) {
			step(m, 1)["expected_materials"] = []any{[]any{"MATCH", "*", "WITH", "PRODUCTS", "FROM", "chekout"}}
		}, []string{`step "build" expected_materials`, `"chekout"`, "does not have"}},
		{"rule typo", func(m map[string]any) {
			step(m, 1)["expected_products"] = []any{[]any{"MACTH", "*", "WITH", "PRODUCTS", "FROM", "checkout"}}
		}, []string{`step "build" expected_products`, `unknown verb "MACTH"`}},
		{"CREATE in materials", func(m map[string]any) {
			step(m, 0)["expected_materials"] = []any{[]any{"create", "*"}}
		}, []string{"CREATE applies to products only"}},
		{"rule not a list of strings", func(m map[string]any) {
			step(m, 0)["expected_materials"] = []any{"ALLOW *"}
		}, []string{"layout"}},
		{"steps wrong type", func(m map[string]any) { m["steps"] = map[string]any{} }, []string{"layout"}},
		{"float threshold", func(m map[string]any) { step(m, 0)["threshold"] = 1.5 }, []string{"layout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := layoutFixture(t)
			tc.mutate(m)
			_, err := attest.ParseLayout(mustJSON(t, m))
			wantErr(t, err, tc.want...)
		})
	}
	for name, data := range map[string]string{
		"truncated":     `{"_type":"layout","expires":`,
		"not an object": `["layout"]`,
		"deep":          strings.Repeat(`{"a":`, 100),
	} {
		if _, err := attest.ParseLayout([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestLayoutMarshalRefusesInvalid checks that referee never writes a layout
// it would refuse to read.
func TestLayoutMarshalRefusesInvalid(t *testing.T) {
	l := &attest.Layout{Expires: "2030-01-01T00:00:00Z", Steps: []attest.Step{{Name: "a", Threshold: 1}}}
	_, err := l.Marshal()
	wantErr(t, err, `step "a"`, "threshold 1")
	empty := &attest.Layout{Expires: "2030-01-01T00:00:00Z"}
	payload, err := empty.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(payload) != `{"_type":"layout","expires":"2030-01-01T00:00:00Z","readme":"","keys":{},"steps":[],"inspect":[]}` {
		t.Fatalf("empty layout %s", payload)
	}
}
