package attest_test

import (
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestRepeatedKeysRefused: a signed document whose objects repeat a key is
// refused wherever it is read, so no key can be smuggled in front of a
// signed one (a generic decode keeps the last, struct decoding merges).
func TestRepeatedKeysRefused(t *testing.T) {
	s, _ := attest.GenerateKey("")
	link := string(mustB((&attest.Link{Name: "build", Products: map[string]attest.HashObj{"app": {"sha256": strings.Repeat("a", 64)}}}).Marshal()))
	injected := strings.Replace(link, `{"_type"`, `{"products":{"backdoor.so":{"sha256":"`+strings.Repeat("b", 64)+`"}},"_type"`, 1)
	escaped := strings.Replace(link, `{"_type"`, `{"pr\u006fducts":{"x":{"sha256":"`+strings.Repeat("b", 64)+`"}},"_type"`, 1)
	nested := strings.Replace(link, `"sha256":"`, `"sha256":"`+strings.Repeat("c", 64)+`","sha256":"`, 1)
	for name, payload := range map[string]string{"injected": injected, "escaped key": escaped, "nested": nested} {
		if _, err := attest.ParseLink([]byte(payload)); err == nil || !strings.Contains(err.Error(), "appears twice") {
			t.Errorf("%s: ParseLink: %v", name, err)
		}
		env := attest.NewEnvelope(attest.FormDSSE, []byte(payload))
		if _, err := env.PayloadKind(); err == nil {
			t.Errorf("%s: PayloadKind accepted it", name)
		}
		// As a Metablock, the envelope itself is refused on parse.
		meta, err := attest.SignPayload(attest.FormMetablock, []byte(link), s)
		if err != nil {
			t.Fatal(err)
		}
		meta.Payload = []byte(payload)
		data, _ := meta.Marshal()
		if _, err := attest.ParseEnvelope(data); err == nil || !strings.Contains(err.Error(), "appears twice") {
			t.Errorf("%s: ParseEnvelope: %v", name, err)
		}
	}
	if _, err := attest.ParseLink([]byte(link)); err != nil {
		t.Fatalf("the honest link: %v", err)
	}
	// Equal strings in values, or one key in two objects, are fine.
	ok := `{"_type":"link","name":"a","materials":{"f":{"sha256":"` + strings.Repeat("a", 64) + `"}},"products":{"f":{"sha256":"` + strings.Repeat("a", 64) + `"}},"command":["f","f"],"byproducts":{},"environment":{}}`
	if _, err := attest.ParseLink([]byte(ok)); err != nil {
		t.Fatalf("same key in two objects: %v", err)
	}
}

func mustB(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestURIArtifactNeedsAScheme(t *testing.T) {
	h := `{"sha256":"` + strings.Repeat("a", 64) + `"}`
	for p, ok := range map[string]bool{"git+https://example.com/x": true, "a/../b://x": false, "://x": false, "oci://r/app": true} {
		_, err := attest.ParseLink([]byte(`{"_type":"link","name":"s","materials":{"` + p + `":` + h + `},"products":{}}`))
		if (err == nil) != ok {
			t.Errorf("%q: %v", p, err)
		}
	}
}
