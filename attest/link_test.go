package attest_test

import (
	"reflect"
	"testing"

	"github.com/referee-dev/referee/attest"
)

func TestParseLink(t *testing.T) {
	l, err := attest.ParseLink([]byte(`{"_type":"link","name":"build","command":["make"],"materials":{"src/a.c":{"sha256":"00ff"}},"products":{"git+https://example.com/x":{"sha256":"AB"}},"byproducts":{"return-value":0},"environment":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "build" || len(l.Materials) != 1 || len(l.Products) != 1 {
		t.Fatalf("link %+v", l)
	}
	// Empty artifact sets come back as empty maps, and Marshal round-trips.
	l2, err := attest.ParseLink([]byte(`{"_type":"link","name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if l2.Materials == nil || l2.Products == nil {
		t.Fatalf("nil artifact maps %+v", l2)
	}
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := attest.ParseLink(payload)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Materials, l.Materials) || !reflect.DeepEqual(back.Products, l.Products) || !reflect.DeepEqual(back.Command, l.Command) {
		t.Fatalf("round trip %+v != %+v", back, l)
	}
	if got := attest.LinkFileName("build", "0123456789abcdef"); got != "build.01234567.link" {
		t.Fatalf("LinkFileName %q", got)
	}
}

func TestParseLinkErrors(t *testing.T) {
	art := func(set, path, digest string) string {
		return `{"_type":"link","name":"s","` + set + `":{"` + path + `":{"sha256":"` + digest + `"}}}`
	}
	for _, tc := range []struct {
		name, data string
		want       []string
	}{
		{"layout as link", `{"_type":"layout","name":"s"}`, []string{`_type is "layout"`}},
		{"no _type", `{"name":"s"}`, []string{`_type is ""`}},
		{"no name", `{"_type":"link"}`, []string{"no name"}},
		{"dot-dot inside", art("materials", "a/../b", "00"), []string{`"a/../b"`, "not normalised", `"b"`}},
		{"dot slash", art("products", "./a", "00"), []string{`"./a"`, "not normalised"}},
		{"leading dot-dot", art("products", "../etc/passwd", "00"), []string{"not normalised"}},
		{"just dot-dot", art("products", "..", "00"), []string{"not normalised"}},
		{"double slash", art("products", "a//b", "00"), []string{"not normalised"}},
		{"trailing slash", art("products", "a/", "00"), []string{"not normalised"}},
		{"backslash", art("products", `a\\b`, "00"), []string{"backslash"}},
		{"NUL", art("products", `a\u0000b`, "00"), []string{"NUL"}},
		{"empty path", art("products", "", "00"), []string{"empty artifact path"}},
		{"non-hex digest", art("materials", "a", "xyz"), []string{`"a"`, "sha256 digest is not hex"}},
		{"odd-length digest", art("materials", "a", "abc"), []string{"not hex"}},
		{"empty digest", art("materials", "a", ""), []string{"not hex"}},
		{"no hash", `{"_type":"link","name":"s","products":{"a":{}}}`, []string{`"a" has no hash`}},
		{"digest wrong type", `{"_type":"link","name":"s","products":{"a":{"sha256":1}}}`, []string{"link"}},
		{"materials wrong type", `{"_type":"link","name":"s","materials":[]}`, []string{"link"}},
		{"truncated", `{"_type":"link","na`, []string{"truncated"}},
		{"trailing data", `{"_type":"link","name":"s"}]`, []string{"JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.ParseLink([]byte(tc.data))
			wantErr(t, err, tc.want...)
		})
	}
}
