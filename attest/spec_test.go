package attest_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
)

var specNow = time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)

func TestParseExpiry(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"6mo", time.Date(2026, 7, 31, 12, 0, 0, 0, time.UTC)},
		{"1y", time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)},
		{"2w", time.Date(2026, 2, 14, 12, 0, 0, 0, time.UTC)},
		{"30d", time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)},
		{"12h", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"90m", time.Date(2026, 1, 31, 13, 30, 0, 0, time.UTC)},
		{"1y6mo", time.Date(2027, 7, 31, 12, 0, 0, 0, time.UTC)},
		{"1d12h", time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)},
		{"2030-01-01T00:00:00Z", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2030-01-01T02:00:00+02:00", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2030-01-01T00:00:00.75Z", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2030-01-01", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := attest.ParseExpiry(tc.in, specNow)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"2000-01-01T00:00:00Z", "not in the future"},
		{"2026-01-31T12:00:00Z", "not in the future"},
		{"2020-01-01", "not in the future"},
		{"0d", "not in the future"},
		{"6 months", "want a time"},
		{"6mox", "want a time"},
		{"-1y", "want a time"},
		{"1.5y", "want a time"},
		{"y", "want a time"},
		{"tomorrow", "want a time"},
		{"99999999999999999999y", "number too large"},
		{"100001d", "number too large"},
		{"99999y", "after the year 9999"},
	} {
		_, err := attest.ParseExpiry(tc.in, specNow)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.in) {
			t.Errorf("ParseExpiry(%q): error %v, want one naming the input and %q", tc.in, err, tc.want)
		}
	}
}

const goodSpec = `expires: 1y
readme: test chain
functionaries:
  alice: alice.pub
  bob: bob.pub
steps:
  - name: checkout
    expected_command: git clone https://example.com/repo "my dir"
    functionaries: [alice]
    expected_products:
      - CREATE src/*
      - DISALLOW *
  - name: build
    expected_command: [make, all]
    threshold: 2
    functionaries: [alice, bob, alice]
    expected_materials:
      - MATCH src/* WITH PRODUCTS FROM checkout
      - DISALLOW *
    expected_products:
      - CREATE app
sublayouts:
  - name: vendor
    functionaries: [bob]
inspections:
  - name: untar
    run: tar xf app.tar
    expected_materials:
      - MATCH app WITH PRODUCTS FROM build
`

func specKeys(t *testing.T) func(string) (*attest.Key, error) {
	ss := testSigners(t)
	return func(path string) (*attest.Key, error) {
		switch path {
		case "alice.pub":
			return ss["ed25519"].Key(), nil
		case "bob.pub":
			return ss["ecdsa"].Key(), nil
		}
		return nil, errors.New("no such key file")
	}
}

func TestSpecLayout(t *testing.T) {
	spec, err := attest.ParseSpec([]byte(goodSpec))
	if err != nil {
		t.Fatal(err)
	}
	l, err := spec.Layout(specKeys(t), specNow)
	if err != nil {
		t.Fatal(err)
	}
	ss := testSigners(t)
	alice, bob := ss["ed25519"].Key().KeyID, ss["ecdsa"].Key().KeyID
	if l.Expires != "2027-01-31T12:00:00Z" || l.Readme != "test chain" || len(l.Keys) != 2 {
		t.Fatalf("layout %+v", l)
	}
	if len(l.Steps) != 3 || l.Steps[2].Name != "vendor" || len(l.Inspect) != 1 {
		t.Fatalf("steps %+v inspections %+v", l.Steps, l.Inspect)
	}
	co, build := l.Step("checkout"), l.Step("build")
	if !reflect.DeepEqual(co.ExpectedCommand, []string{"git", "clone", "https://example.com/repo", "my dir"}) {
		t.Errorf("checkout command %q", co.ExpectedCommand)
	}
	if co.Threshold != 1 || !reflect.DeepEqual(co.PubKeys, []string{alice}) {
		t.Errorf("checkout %+v", co)
	}
	if build.Threshold != 2 || !reflect.DeepEqual(build.PubKeys, []string{alice, bob}) {
		t.Errorf("build threshold %d keys %v", build.Threshold, build.PubKeys)
	}
	if !reflect.DeepEqual(build.ExpectedMaterials, [][]string{{"MATCH", "src/*", "WITH", "PRODUCTS", "FROM", "checkout"}, {"DISALLOW", "*"}}) {
		t.Errorf("build materials %q", build.ExpectedMaterials)
	}
	if !reflect.DeepEqual(l.Inspect[0].Run, []string{"tar", "xf", "app.tar"}) {
		t.Errorf("inspection run %q", l.Inspect[0].Run)
	}
	// The layout survives its own encoding, which leaves it unchanged.
	stepsBefore := append([]attest.Step{}, l.Steps...)
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := attest.ParseLayout(payload)
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, payload) || len(back.Steps) != len(l.Steps) || back.Step("build") == nil || !reflect.DeepEqual(back.Step("build").ExpectedMaterials, build.ExpectedMaterials) || !reflect.DeepEqual(back.KeyIDs(), l.KeyIDs()) {
		t.Fatalf("round trip:\n%s\n%s", again, payload)
	}
	if !reflect.DeepEqual(l.Steps, stepsBefore) {
		t.Error("Marshal changed the layout it encoded")
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"field typo", "expires: 1y\nsteps:\n  - name: a\n    expected_product: [CREATE x]\n", []string{`line 4: unknown field "expected_product" in step "a" (did you mean expected_products?)`}},
		{"top-level typo", "expire: 1y\n", []string{`line 1: unknown field "expire" (did you mean expires?)`}},
		{"missing expires", "steps: []\n", []string{"expires is missing"}},
		{"rule typo", "expires: 1y\nsteps:\n  - name: build\n    expected_materials:\n      - MACTH * WITH PRODUCTS FROM a\n", []string{`step "build"`, `unknown verb "MACTH"`}},
		{"rule missing FROM", "expires: 1y\nsteps:\n  - name: b\n    expected_products:\n      - MATCH * WITH PRODUCTS a\n", []string{`step "b"`, "expected FROM"}},
		{"inspection rule typo", "expires: 1y\ninspections:\n  - name: i\n    run: ls\n    expected_products:\n      - ALOW *\n", []string{`inspection "i"`, `"ALOW"`}},
		{"sublayout rule typo", "expires: 1y\nsublayouts:\n  - name: s\n    expected_products:\n      - REQUIRE\n", []string{`line 5: expected_products in sublayout "s"`, "exactly one pattern"}},
		{"unterminated quote", "expires: 1y\nsteps:\n  - name: a\n    expected_command: sh -c 'echo\n", []string{"unterminated single quote"}},
		{"command wrong type", "expires: 1y\nsteps:\n  - name: a\n    expected_command: {a: b}\n", []string{`line 4: expected_command in step "a" is a mapping; want a command: a string or a list of strings`}},
		{"threshold not a number", "expires: 1y\nsteps:\n  - name: a\n    threshold: many\n", []string{"many"}},
		{"not YAML", "expires: [1y\n", []string{"line 1: did not find expected"}},
		{"steps not a list", "expires: 1y\nsteps: build\n", []string{`line 2: steps is "build"; want a list`}},
		{"too big", "expires: 1y\nreadme: " + strings.Repeat("a", 1<<20) + "\n", []string{"more than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.ParseSpec([]byte(tc.spec))
			wantErr(t, err, tc.want...)
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
		})
	}
}

func TestSpecLayoutErrors(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"bad expiry", "expires: soon\n", []string{`expires "soon"`}},
		{"past expiry", "expires: 2001-01-01T00:00:00Z\n", []string{"not in the future"}},
		{"unknown functionary", "expires: 1y\nsteps:\n  - name: a\n    functionaries: [carol]\n", []string{`step "a"`, `"carol"`}},
		{"missing key file", "expires: 1y\nfunctionaries:\n  carol: carol.pub\n", []string{`functionary "carol"`, "no such key file"}},
		{"threshold above keys", "expires: 1y\nfunctionaries: {alice: alice.pub}\nsteps:\n  - name: a\n    threshold: 2\n    functionaries: [alice, alice]\n", []string{`step "a"`, "threshold 2"}},
		{"no functionary", "expires: 1y\nsteps:\n  - name: a\n", []string{`step "a"`, "threshold 1"}},
		{"duplicate step", "expires: 1y\nfunctionaries: {alice: alice.pub}\nsteps:\n  - {name: a, functionaries: [alice]}\n  - {name: a, functionaries: [alice]}\n", []string{`"a"`, "already used"}},
		{"CREATE in materials", "expires: 1y\nfunctionaries: {alice: alice.pub}\nsteps:\n  - name: a\n    functionaries: [alice]\n    expected_materials: [CREATE x]\n", []string{"expected_materials", "CREATE applies to products only"}},
		{"DELETE in products", "expires: 1y\nfunctionaries: {alice: alice.pub}\nsteps:\n  - name: a\n    functionaries: [alice]\n    expected_products: [DELETE x]\n", []string{"expected_products", "DELETE applies to materials only"}},
		{"MATCH unknown step", "expires: 1y\nfunctionaries: {alice: alice.pub}\nsteps:\n  - name: a\n    functionaries: [alice]\n    expected_materials: [MATCH * WITH PRODUCTS FROM nowhere]\n", []string{`"nowhere"`, "does not have"}},
		{"inspection without run", "expires: 1y\ninspections:\n  - name: i\n", []string{`inspection "i"`, "run is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := attest.ParseSpec([]byte(tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			_, err = spec.Layout(specKeys(t), specNow)
			wantErr(t, err, tc.want...)
		})
	}
}

// TestSpecExpiresTimestamp checks that an unquoted YAML timestamp reaches
// ParseExpiry as written.
func TestSpecExpiresTimestamp(t *testing.T) {
	spec, err := attest.ParseSpec([]byte("expires: 2030-06-01T00:00:00Z\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := spec.Layout(specKeys(t), specNow)
	if err != nil {
		t.Fatal(err)
	}
	if l.Expires != "2030-06-01T00:00:00Z" {
		t.Fatalf("expires %q", l.Expires)
	}
}

// TestSpecMessages checks, word for word, what a spec's common mistakes
// are told as: with the line, in the spec's terms, never in Go's.
func TestSpecMessages(t *testing.T) {
	// cli/testdata/spec-typo.yaml, its rule typo mended and a field typo
	// added on line 12.
	const typo = `expires: 1y
functionaries:
  alice: alice.pub
steps:
  - name: write
    functionaries: [alice]
    expected_products: [CREATE foo.py, DISALLOW *]
  - name: package
    functionaries: [alice]
    expected_materials: [MATCH foo.py WITH PRODUCTS FROM write]
  - name: build
    expected_product: [CREATE app]
`
	for _, tc := range []struct{ name, spec, want string }{
		{"unknown step field", typo, `line 12: unknown field "expected_product" in step "build" (did you mean expected_products?)`},
		{"unknown top-level field", "expires: 1y\nfunctionary:\n  alice: alice.pub\n", `line 2: unknown field "functionary" (did you mean functionaries?)`},
		{"field of another kind", "expires: 1y\nsteps:\n  - name: a\n    command: make\n", `line 4: unknown field "command" in step "a" (did you mean expected_command?)`},
		{"unknown field, nothing like it", "expires: 1y\nowner: me\n", `line 2: unknown field "owner"`},
		{"unknown inspection field", "expires: 1y\ninspections:\n  - name: look\n    command: ls\n", `line 4: unknown field "command" in inspection "look"`},
		{"unnamed step", "expires: 1y\nsteps:\n  - threshhold: 1\n", `line 3: unknown field "threshhold" in step 1 (did you mean threshold?)`},
		{"rule typo", strings.Replace(strings.Replace(typo, "    expected_product: [CREATE app]\n", "", 1), "[MATCH", "[MACTH", 1), `line 10: expected_materials in step "package": bad artifact rule "MACTH foo.py WITH PRODUCTS FROM write": unknown verb "MACTH" (want MATCH, ALLOW, DISALLOW, REQUIRE, CREATE, DELETE or MODIFY)`},
		{"unquoted rule with a colon", "expires: 1y\nsteps:\n  - name: a\n    expected_products:\n      - ALLOW a: b\n", `line 5: an entry of expected_products in step "a" is a mapping; want a string (a rule with ": " in it must be quoted)`},
		{"threshold a word", "expires: 1y\nsteps:\n  - name: a\n    threshold: two\n", `line 4: threshold in step "a" is "two"; want a whole number`},
		{"version a word", "expires: 1y\nversion: latest\n", `line 2: version is "latest"; want a whole number`},
		{"steps a string", "expires: 1y\nsteps: build\n", `line 2: steps is "build"; want a list`},
		{"step a string", "expires: 1y\nsteps:\n  - build\n", `line 3: step 1 is "build"; want a mapping of fields (name: …)`},
		{"functionaries a list", "expires: 1y\nfunctionaries: [alice]\n", `line 2: functionaries is a list; want a mapping of names to public-key files (alice: keys/alice.pub)`},
		{"functionary a list", "expires: 1y\nfunctionaries:\n  alice: [a.pub]\n", `line 3: functionary "alice" is a list; want the name of a public-key file`},
		{"step functionaries a string", "expires: 1y\nsteps:\n  - name: a\n    functionaries: {alice: x}\n", `line 4: functionaries in step "a" is a mapping; want a list`},
		{"command a mapping", "expires: 1y\nsteps:\n  - name: a\n    expected_command: {run: make}\n", `line 4: expected_command in step "a" is a mapping; want a command: a string or a list of strings`},
		{"spec a list", "- expires: 1y\n", `line 1: a layout spec is a mapping of fields (expires, functionaries, steps, …), not a list`},
		{"repeated field", "expires: 1y\nexpires: 2y\n", `line 2: mapping key "expires" already defined at line 1`},
		{"not YAML", "expires: [1y\n", `line 1: did not find expected ',' or ']'`},
		{"typo behind a merge", "expires: 1y\nsteps:\n  - <<: {name: x, bogus: 1}\n", `line 3: unknown field "bogus"`},
		{"empty", "", "expires is missing (e.g. expires: 6mo, or 2030-01-01T00:00:00Z)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.ParseSpec([]byte(tc.spec))
			wantUserMessage(t, err, tc.want)
		})
	}
}

// TestSpecThresholdMessages checks that threshold errors speak of the
// spec's functionaries.
func TestSpecThresholdMessages(t *testing.T) {
	const head = "expires: 1y\nfunctionaries: {alice: alice.pub, bob: bob.pub, alias: alice.pub}\nsteps:\n  - name: build\n"
	for _, tc := range []struct{ name, step, want string }{
		{"no functionaries", "", `step "build" has no functionaries (threshold 1 needs at least 1 key)`},
		{"no functionaries, threshold 2", "    threshold: 2\n", `step "build" has no functionaries (threshold 2 needs at least 2 keys)`},
		{"too few", "    threshold: 3\n    functionaries: [alice, bob]\n", `step "build": threshold 3 needs 3 functionaries with different keys, but it has 2`},
		{"listed twice", "    threshold: 2\n    functionaries: [alice, alice]\n", `step "build": threshold 2 needs 2 functionaries with different keys, but it has 1 (alice is listed twice)`},
		{"one key, two names", "    threshold: 2\n    functionaries: [alice, alias]\n", `step "build": threshold 2 needs 2 functionaries with different keys, but it has 1 (alice and alias have the same key)`},
		{"negative", "    threshold: -1\n    functionaries: [alice]\n", `step "build": threshold -1 is below 1 (it is how many functionaries must sign)`},
		{"unknown functionary", "    functionaries: [carol]\n", `step "build": functionary "carol" is not under functionaries`},
		{"name with a slash", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := head + tc.step
			want := tc.want
			if tc.want == "" {
				spec = strings.Replace(head, "name: build", "name: ci/build", 1) + "    functionaries: [alice]\n"
				want = `step name "ci/build" has a '/': it becomes a link file name (STEP.KEYID8.link)`
			}
			s, err := attest.ParseSpec([]byte(spec))
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Layout(specKeys(t), specNow)
			wantUserMessage(t, err, want)
		})
	}
}

// TestLayoutThresholdMessages checks the same for a layout read from a
// file, which names keys, not functionaries.
func TestLayoutThresholdMessages(t *testing.T) {
	k := testSigners(t)[attest.KeyTypeEd25519].Key()
	for _, tc := range []struct {
		name      string
		threshold int
		keys      []string
		want      string
	}{
		{"no keys", 1, nil, `step "build" has no functionary keys (threshold 1 needs at least 1)`},
		{"too few", 2, []string{k.KeyID, k.KeyID}, `step "build": threshold 2 is more than its 1 distinct functionary keys`},
		{"zero", 0, []string{k.KeyID}, `step "build": threshold 0 is below 1 (it is how many functionaries must sign)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &attest.Layout{Type: "layout", Expires: "2030-01-01T00:00:00Z", Keys: map[string]*attest.Key{k.KeyID: k},
				Steps: []attest.Step{{Type: "step", Name: "build", Threshold: tc.threshold, PubKeys: tc.keys}}}
			wantUserMessage(t, l.Validate(), tc.want)
		})
	}
}

// TestSpecSLSA checks that a spec's slsa declaration, in functionary
// names, becomes the layout's signed readme line, in keyids.
func TestSpecSLSA(t *testing.T) {
	spec, err := attest.ParseSpec([]byte(goodSpec + "slsa:\n  build: build\n  hosted: [bob, alice]\n  hardened: bob\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := spec.Layout(specKeys(t), specNow)
	if err != nil {
		t.Fatal(err)
	}
	ss := testSigners(t)
	alice, bob := ss["ed25519"].Key().KeyID, ss["ecdsa"].Key().KeyID
	want := "test chain\nreferee-slsa: build=build hosted=" + bob + "," + alice + " hardened=" + bob
	if l.Readme != want {
		t.Fatalf("readme %q, want %q", l.Readme, want)
	}
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := attest.ParseLayout(payload)
	if err != nil {
		t.Fatal(err)
	}
	d, err := back.SLSA()
	if err != nil || d.Build != "build" || !d.IsHosted(alice) || !d.IsHardened(bob) || d.IsHardened(alice) {
		t.Fatalf("declaration %+v %v", d, err)
	}
	// A sublayout can be the build; a spec without slsa declares nothing.
	spec, _ = attest.ParseSpec([]byte(goodSpec + "slsa: {build: vendor, hosted: [bob]}\n"))
	if l, err := spec.Layout(specKeys(t), specNow); err != nil || !strings.Contains(l.Readme, "build=vendor hosted="+bob) {
		t.Fatalf("sublayout build: %v", err)
	}
	spec, _ = attest.ParseSpec([]byte(goodSpec + "slsa:\n"))
	if l, err := spec.Layout(specKeys(t), specNow); err != nil || l.Readme != "test chain" {
		t.Fatalf("empty slsa: %v %q", err, l.Readme)
	}
}

func TestSpecSLSAErrors(t *testing.T) {
	base := strings.Replace(goodSpec, "readme: test chain\n", "", 1)
	for _, tc := range []struct {
		name, yaml string
		parse      bool // the error comes from ParseSpec, not Layout
		want       []string
	}{
		{"not a mapping", "slsa: build\n", true, []string{`slsa is "build"; want a mapping`}},
		{"field typo", "slsa:\n  bild: build\n", true, []string{`unknown field "bild" in slsa (did you mean build?)`}},
		{"no build", "slsa:\n  hosted: [alice]\n", true, []string{"slsa names no build step"}},
		{"build a list", "slsa:\n  build: [build]\n", true, []string{"build in slsa is a list; want the name of the build step"}},
		{"hosted a mapping", "slsa:\n  build: build\n  hosted: {alice: yes}\n", true, []string{"hosted in slsa is a mapping; want a list of functionaries"}},
		{"hosted twice", "slsa:\n  build: build\n  hosted: [alice, alice]\n", true, []string{`hosted in slsa lists "alice" twice`}},
		{"hosted entry a list", "slsa:\n  build: build\n  hosted: [[alice]]\n", true, []string{"an entry of hosted in slsa is a list"}},
		{"unknown build", "slsa: {build: compile}\n", false, []string{`slsa: build step "compile" is not under steps or sublayouts`}},
		{"build an inspection", "slsa: {build: untar}\n", false, []string{`slsa: build "untar" is an inspection`}},
		{"unknown functionary", "slsa: {build: build, hosted: [carol]}\n", false, []string{`slsa: hosted functionary "carol" is not under functionaries`}},
		{"not a functionary of the build", "slsa: {build: checkout, hosted: [bob]}\n", false, []string{`slsa: hosted functionary "bob" is not a functionary of build step "checkout"`}},
		{"hardened not hosted", "slsa: {build: build, hosted: [alice], hardened: [bob]}\n", false, []string{`slsa: hardened functionary "bob" is not also hosted`}},
		{"declared twice", "readme: \"referee-slsa: build=build\"\nslsa: {build: build}\n", false, []string{"declare it once, under slsa"}},
		{"malformed readme line", "readme: \"chain\\nreferee-slsa: build=nowhere\"\n", false, []string{`readme line "referee-slsa: build=nowhere"`, "not a step of the layout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := attest.ParseSpec([]byte(base + tc.yaml))
			if tc.parse {
				wantErr(t, err, tc.want...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = spec.Layout(specKeys(t), specNow)
			wantErr(t, err, tc.want...)
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
		})
	}
}
