package attest_test

import (
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestSpecSignedByNamesAFunctionary: a native check's --signed-by may name
// a functionary of the spec; the layout says it by that key's keyid (the
// layout has no names), in both flag spellings; a value that is no
// functionary is left as written (a keyid), and nothing after -- changes.
func TestSpecSignedByNamesAFunctionary(t *testing.T) {
	spec, err := attest.ParseSpec([]byte(`expires: 1y
functionaries: {alice: alice.pub, bob: bob.pub}
steps:
  - name: build
    functionaries: [alice]
    expected_products: [CREATE app.tar, CREATE referee:image-manifest, DISALLOW *]
inspections:
  - name: scanned
    run: referee check --attestation https://example.com/scan/v1 --signed-by bob --cel 'input.critical == 0'
  - name: scanned2
    run: referee check --attestation=https://example.com/scan/v1 --signed-by=bob --cel true -- bob
  - name: by-keyid
    run: referee check --attestation https://example.com/scan/v1 --signed-by 0123456789abcdef --cel true
`))
	if err != nil {
		t.Fatal(err)
	}
	keys := specKeys(t)
	l, err := spec.Layout(keys, specNow)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := keys("bob.pub")
	if _, ok := l.Keys[bob.KeyID]; !ok {
		t.Fatal("bob's key, named only by a check, is not in the layout's keys")
	}
	got := map[string]string{}
	for _, in := range l.Inspect {
		got[in.Name] = strings.Join(in.Run, " ")
	}
	for name, want := range map[string]string{
		"scanned":  "--signed-by " + bob.KeyID + " --cel",
		"scanned2": "--signed-by=" + bob.KeyID + " --cel true -- bob",
		"by-keyid": "--signed-by 0123456789abcdef",
	} {
		if !strings.Contains(got[name], want) {
			t.Errorf("%s: run is %q, want %q in it", name, got[name], want)
		}
	}
}
