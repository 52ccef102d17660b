package attest_test

import (
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
	// The layout survives its own encoding.
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := attest.ParseLayout(payload)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Steps, l.Steps) || !reflect.DeepEqual(back.Inspect, l.Inspect) || !reflect.DeepEqual(back.KeyIDs(), l.KeyIDs()) {
		t.Fatalf("round trip:\n%+v\n%+v", back.Steps, l.Steps)
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"field typo", "expires: 1y\nsteps:\n  - name: a\n    expected_product: [CREATE x]\n", []string{"expected_product", "not found"}},
		{"top-level typo", "expire: 1y\n", []string{"expire", "not found"}},
		{"missing expires", "steps: []\n", []string{"expires is missing"}},
		{"rule typo", "expires: 1y\nsteps:\n  - name: build\n    expected_materials:\n      - MACTH * WITH PRODUCTS FROM a\n", []string{`step "build"`, `unknown verb "MACTH"`}},
		{"rule missing FROM", "expires: 1y\nsteps:\n  - name: b\n    expected_products:\n      - MATCH * WITH PRODUCTS a\n", []string{`step "b"`, "expected FROM"}},
		{"inspection rule typo", "expires: 1y\ninspections:\n  - name: i\n    run: ls\n    expected_products:\n      - ALOW *\n", []string{`inspection "i"`, `"ALOW"`}},
		{"sublayout rule typo", "expires: 1y\nsublayouts:\n  - name: s\n    expected_products:\n      - REQUIRE\n", []string{`step "s"`, "exactly one pattern"}},
		{"unterminated quote", "expires: 1y\nsteps:\n  - name: a\n    expected_command: sh -c 'echo\n", []string{"unterminated single quote"}},
		{"command wrong type", "expires: 1y\nsteps:\n  - name: a\n    expected_command: {a: b}\n", []string{"a command is a string or a list of strings"}},
		{"threshold not a number", "expires: 1y\nsteps:\n  - name: a\n    threshold: many\n", []string{"many"}},
		{"not YAML", "expires: [1y\n", []string{"layout spec"}},
		{"steps not a list", "expires: 1y\nsteps: build\n", []string{"layout spec"}},
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
