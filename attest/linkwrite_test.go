package attest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/referee-dev/referee/attest"
)

// linkRef is Link.Marshal as it was written before the hand-written writer:
// through encoding/json, HTML not escaped. The writer must match it byte
// for byte.
func linkRef(l attest.Link) ([]byte, error) {
	l.Type = "link"
	if l.Materials == nil {
		l.Materials = map[string]attest.HashObj{}
	}
	if l.Products == nil {
		l.Products = map[string]attest.HashObj{}
	}
	if l.Byproducts == nil {
		l.Byproducts = map[string]any{}
	}
	if l.Environment == nil {
		l.Environment = map[string]any{}
	}
	if l.Command == nil {
		l.Command = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// tricky are the pieces random strings are made of: what encoding/json
// escapes or might be expected to (HTML, U+2028/9, controls, DEL), other
// UTF-8 and, for fields other than paths, invalid UTF-8.
var tricky = []string{
	"a", "Z", "0", "/", ".", "-", "_", " ", "<", ">", "&", "\"", "\\", "\n", "\r", "\t", "\b", "\f",
	"\x00", "\x01", "\x1f", "\x7f", "\u2028", "\u2029", "\u2027", "\u202a", "é", "日本", "\U0001F600",
	"\ufffd", "\ufeff", "\u0085", "\u00a0",
}

var invalidUTF8 = []string{"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"}

func randString(r *rand.Rand, max int, invalid bool) string {
	var b strings.Builder
	for range r.IntN(max + 1) {
		if invalid && r.IntN(8) == 0 {
			b.WriteString(invalidUTF8[r.IntN(len(invalidUTF8))])
			continue
		}
		b.WriteString(tricky[r.IntN(len(tricky))])
	}
	return b.String()
}

func randArtifacts(r *rand.Rand) map[string]attest.HashObj {
	switch r.IntN(6) {
	case 0:
		return nil
	case 1:
		return map[string]attest.HashObj{}
	}
	arts := map[string]attest.HashObj{}
	for range r.IntN(40) {
		var h attest.HashObj
		switch r.IntN(8) {
		case 0: // nil: null
		case 1:
			h = attest.HashObj{}
		default:
			h = attest.HashObj{}
			for range 1 + r.IntN(5) {
				h[randString(r, 6, true)] = randString(r, 10, true)
			}
			h["sha256"] = strings.Repeat("ab", 32)
		}
		arts[randString(r, 12, false)] = h
	}
	return arts
}

func randAny(r *rand.Rand, depth int) any {
	switch r.IntN(9) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return r.Float64() * 1e6
	case 3:
		return r.IntN(1000) - 500
	case 4:
		return json.RawMessage(`{"b" : "<&>\u2028", "c":[ 1, 2 ]}`)
	case 5, 6:
		if depth > 0 {
			if r.IntN(2) == 0 {
				a := []any{}
				for range r.IntN(4) {
					a = append(a, randAny(r, depth-1))
				}
				return a
			}
			m := map[string]any{}
			for range r.IntN(4) {
				m[randString(r, 5, true)] = randAny(r, depth-1)
			}
			return m
		}
	}
	return randString(r, 20, true)
}

func randMap(r *rand.Rand) map[string]any {
	if r.IntN(5) == 0 {
		return nil
	}
	m := map[string]any{}
	for range r.IntN(5) {
		m[randString(r, 8, true)] = randAny(r, 3)
	}
	return m
}

func randLink(r *rand.Rand) *attest.Link {
	l := &attest.Link{
		Type:        randString(r, 3, true),
		Name:        randString(r, 10, true),
		Materials:   randArtifacts(r),
		Products:    randArtifacts(r),
		Byproducts:  randMap(r),
		Environment: randMap(r),
	}
	if r.IntN(4) > 0 {
		l.Command = []string{}
		for range r.IntN(5) {
			l.Command = append(l.Command, randString(r, 10, true))
		}
	}
	return l
}

func checkLinkMarshal(t *testing.T, l *attest.Link) {
	t.Helper()
	want, wantErr := linkRef(*l)
	for _, arts := range []map[string]attest.HashObj{l.Materials, l.Products} {
		for p := range arts {
			if !utf8.ValidString(p) { // refused: JSON would name another file
				want, wantErr = nil, errors.New("path not UTF-8")
			}
		}
	}
	got, err := l.Marshal()
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Marshal error %v, encoding/json's %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal differs from encoding/json:\n got %q\nwant %q", got, want)
	}
}

// TestLinkMarshalMatchesEncodingJSON compares the hand-written writer with
// encoding/json over generated links.
func TestLinkMarshalMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 2))
	for i := range 3000 {
		l := randLink(r)
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkLinkMarshal(t, l) })
	}
}

func TestLinkMarshalCases(t *testing.T) {
	every := ""
	for b := range utf8.RuneSelf {
		every += string(rune(b))
	}
	for _, tc := range []struct {
		name string
		link attest.Link
	}{
		{"zero", attest.Link{}},
		{"empty maps", attest.Link{Command: []string{}, Materials: map[string]attest.HashObj{}, Products: map[string]attest.HashObj{}, Byproducts: map[string]any{}, Environment: map[string]any{}}},
		{"every ASCII byte", attest.Link{Name: every, Command: []string{every}, Products: map[string]attest.HashObj{every[1:]: {every: every}}}},
		{"separators", attest.Link{Name: "a\u2028b\u2029c", Products: map[string]attest.HashObj{"\u2028": {"sha256": "\u2029"}}}},
		{"HTML", attest.Link{Name: "<script>&</script>", Products: map[string]attest.HashObj{"a<b>&c": {"sha256": "<>&"}}}},
		{"invalid UTF-8 outside paths", attest.Link{Name: "\xff\xfe", Command: []string{"\xc3("}, Products: map[string]attest.HashObj{"p": {"\xe2\x80": "\xed\xa0\x80"}}}},
		{"nil and empty hash objects", attest.Link{Materials: map[string]attest.HashObj{"a": nil, "b": {}}}},
		{"many algorithms", attest.Link{Products: map[string]attest.HashObj{"f": {"sha512": "01", "sha256": "02", "SHA256": "03", "md5": "04", "blake2b": "05", "sha3-256": "06"}}}},
		{"key order by bytes", attest.Link{Products: map[string]attest.HashObj{"b": {"x": "1"}, "B": {"x": "1"}, "a/b": {"x": "1"}, "a.b": {"x": "1"}, "a": {"x": "1"}, "é": {"x": "1"}, "\U0001F600": {"x": "1"}, "\uffff": {"x": "1"}}}},
		{"byproducts", attest.Link{Byproducts: map[string]any{"stdout": "<a>\n", "stderr": "", "return-value": 0, "nested": map[string]any{"z": []any{1.5, nil, true, "\u2028"}, "a": map[string]any{}}, "raw": json.RawMessage(`{ "x" : "<&>" }`)}, Environment: map[string]any{"k": []string{"v"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLinkMarshal(t, &tc.link) })
	}
}

// TestLinkMarshalRefuses checks that what encoding/json cannot encode, and
// a path that is not UTF-8, are errors.
func TestLinkMarshalRefuses(t *testing.T) {
	for _, l := range []attest.Link{
		{Name: "s", Byproducts: map[string]any{"c": make(chan int)}},
		{Name: "s", Environment: map[string]any{"f": func() {}}},
		{Name: "s", Products: map[string]attest.HashObj{"\xff": {"sha256": "00"}}},
		{Name: "s", Materials: map[string]attest.HashObj{"a\xc3": {"sha256": "00"}}},
	} {
		if b, err := l.Marshal(); err == nil {
			t.Errorf("Marshal of %+v = %q, want an error", l, b)
		}
	}
}

// FuzzLinkMarshal builds a link from the fuzzer's strings and compares the
// writer with encoding/json.
func FuzzLinkMarshal(f *testing.F) {
	f.Add("s", "cmd\x00arg", "a/b\x00c\u2028", "sha256", "00", "<&>")
	f.Add("\xff", "", "\"\\\n", "sha512\x00md5", "\x7f", "\xe2\x80\xa8")
	f.Fuzz(func(t *testing.T, name, command, paths, algs, digest, byproduct string) {
		l := &attest.Link{Name: name, Byproducts: map[string]any{byproduct: byproduct, "n": []any{byproduct}}}
		if command != "" {
			l.Command = strings.Split(command, "\x00")
		}
		if paths != "" {
			l.Products = map[string]attest.HashObj{}
			for _, p := range strings.Split(paths, "\x00") {
				h := attest.HashObj{}
				for _, a := range strings.Split(algs, "\x00") {
					h[a] = digest + a
				}
				l.Products[p] = h
				l.Materials = map[string]attest.HashObj{p: nil}
			}
		}
		checkLinkMarshal(t, l)
	})
}

// bigLink is a link of n products as `referee run` records them.
func bigLink(n int) *attest.Link {
	l := &attest.Link{Name: "build", Command: []string{"make"}, Products: map[string]attest.HashObj{}}
	for i := range n {
		l.Products[fmt.Sprintf("tree/d%02d/f%06d", i%100, i)] = attest.HashObj{"sha256": fmt.Sprintf("%064x", i*7919)}
	}
	return l
}

// BenchmarkLinkMarshal compares, side by side, Link.Marshal with
// encoding/json (what it was) on a link of 100,000 artifacts.
func BenchmarkLinkMarshal(b *testing.B) {
	l := bigLink(100000)
	for _, impl := range []struct {
		name string
		f    func() ([]byte, error)
	}{{"writer", l.Marshal}, {"encoding-json", func() ([]byte, error) { return linkRef(*l) }}} {
		b.Run("100000/"+impl.name, func(b *testing.B) {
			for b.Loop() {
				out, err := impl.f()
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(out)))
			}
		})
	}
}

// TestLinkMarshalLarge compares the writer with encoding/json on links
// large enough to be sorted and written by two goroutines, at sizes around
// where that starts.
func TestLinkMarshalLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 4))
	for _, n := range []int{1<<14 - 1, 1 << 14, 1<<14 + 1, 40001} {
		l := bigLink(n)
		l.Materials = map[string]attest.HashObj{}
		for len(l.Materials) < n {
			l.Materials[randString(r, 12, false)] = attest.HashObj{"sha256": "00", randString(r, 3, true): "\u2028"}
		}
		l.Products[""] = nil
		checkLinkMarshal(t, l)
	}
}
