package oci

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// encodedLen is exactly the length of encoding/json's encoding of a
// string (HTML escaping on, its default), on UTF-8 strings of every kind
// of character that it escapes.
func TestEncodedLenMatchesEncodingJSON(t *testing.T) {
	pieces := []string{"a", "{", "\"", "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "<", ">", "&", "\u2028", "\u2029", "é", "€", "😀", " ", "/"}
	r := rand.New(rand.NewPCG(1, 2))
	cases := append([]string{""}, pieces...)
	for range 2000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodedLen(s); got != len(want) {
			t.Fatalf("encodedLen(%q) = %d, encoding/json writes %d bytes: %s", s, got, len(want), want)
		}
	}
}
