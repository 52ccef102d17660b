package attest_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// scanCorpus is every document the fuzzers and references produce, for
// comparing the one-pass reader (canonscan.go) with the library path:
// the files under attest/testdata and the peers' supply chains, the fuzz
// seed corpora, the payloads of those that are envelopes, and generated
// documents (generatedJSON).
func scanCorpus(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, root := range []string{"testdata", "../integration/testdata/peers"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if rest, ok := bytes.CutPrefix(data, []byte("go test fuzz v1\n")); ok {
				for _, line := range strings.Split(string(rest), "\n") {
					if lit, ok := strings.CutPrefix(line, "[]byte("); ok {
						if s, err := strconv.Unquote(strings.TrimSuffix(lit, ")")); err == nil {
							out = append(out, []byte(s))
						}
					}
				}
				return nil
			}
			out = append(out, data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range out {
		if e, err := attest.LibraryParseEnvelope(d); err == nil {
			out = append(out, e.Payload)
		}
	}
	return append(out, generatedJSON(2000)...)
}

// generatedJSON makes n documents that exercise what canonical JSON
// touches: keys out of order and repeated, escapes of every kind, non-ASCII
// and invalid UTF-8, lone surrogates, numbers of every shape, whitespace,
// deep nesting, and links with artifacts.
func generatedJSON(n int) [][]byte {
	r := rand.New(rand.NewPCG(13, 1))
	strs := []string{`a`, `b`, `sha256`, `SHA256`, `é`, `\u00e9`, `\"`, `\\`, `\/`, `\n`, `\u0000`, `\ud83d\ude00`, `\ud800`, "\xff", "\u2028", `src/a.go`, `./x`, `a//b`, "tab\there", `\t`, `<&>`, ``, `zz`, `Ω`}
	nums := []string{`0`, `-0`, `7`, `-12`, `1.5`, `1e3`, `01`, `9223372036854775807`, `9223372036854775808`, `123456789012345678`, `-`, `1E2`}
	var value func(depth int) string
	str := func() string { return `"` + strs[r.IntN(len(strs))] + strs[r.IntN(len(strs))] + `"` }
	ws := func() string { return []string{"", "", " ", "\n  ", "\t", "\r\n"}[r.IntN(6)] }
	value = func(depth int) string {
		k := r.IntN(10)
		if depth > 4 {
			k = r.IntN(6)
		}
		switch k {
		case 0, 1:
			return str()
		case 2:
			return nums[r.IntN(len(nums))]
		case 3:
			return []string{"true", "false", "null"}[r.IntN(3)]
		case 4:
			return fmt.Sprintf(`{"sha256":"%064x"}`, r.Uint64())
		case 5, 6:
			var items []string
			for range r.IntN(4) {
				items = append(items, ws()+value(depth+1)+ws())
			}
			return "[" + strings.Join(items, ",") + "]"
		}
		var items []string
		for range r.IntN(6) {
			items = append(items, ws()+str()+ws()+":"+ws()+value(depth+1))
		}
		return "{" + strings.Join(items, ",") + ws() + "}"
	}
	// signatures is a list of signatures as the forms write it, or not
	// quite: other fields, repeated ones, other types, other cases.
	signatures := func() string {
		var items []string
		for range r.IntN(4) {
			switch r.IntN(6) {
			case 0:
				items = append(items, []string{`null`, `1`, `"ab"`, `[]`}[r.IntN(4)])
				continue
			case 1:
				items = append(items, `{"keyid":"ab","sig":"00"}`)
				continue
			}
			var fields []string
			for range r.IntN(4) {
				k := []string{`"keyid"`, `"sig"`, `"cert"`, `"KeyID"`, `"Sig"`, `"other"`, `"k\u0065yid"`}[r.IntN(7)]
				v := []string{`"ab"`, `"00"`, `"AAEC"`, str(), value(2), `null`}[r.IntN(6)]
				fields = append(fields, ws()+k+":"+ws()+v)
			}
			items = append(items, "{"+strings.Join(fields, ",")+"}")
		}
		return "[" + ws() + strings.Join(items, ","+ws()) + "]"
	}
	var out [][]byte
	for i := range n {
		switch i % 4 {
		case 0:
			out = append(out, []byte(value(0)))
		case 1:
			// Links, sometimes with artifacts out of order.
			var arts []string
			for j := range r.IntN(5) {
				arts = append(arts, fmt.Sprintf(`%s"p%d/%s":%s`, ws(), r.IntN(4), strs[r.IntN(len(strs))], []string{fmt.Sprintf(`{"sha256":"%064x"}`, j), `{"sha512":"abcd","sha256":"00"}`, `{"sha256":"ABCD"}`, `{}`, `{"sha256":""}`, value(3)}[r.IntN(6)]))
			}
			out = append(out, []byte(fmt.Sprintf(`{"_type":"link","name":%s,"command":%s,"materials":{%s},"products":{},"byproducts":%s,"environment":{}}`, str(), value(3), strings.Join(arts, ","), value(2))))
		case 2:
			out = append(out, []byte(strings.Repeat("[", 60+r.IntN(8))+strings.Repeat("]", 60+r.IntN(8))))
		default:
			if i%8 == 3 {
				out = append(out, []byte(fmt.Sprintf(`{"signed":%s,"signatures":%s}`, value(0), signatures())))
				break
			}
			// DSSE, the payload a link, written in the ways JSON allows.
			link := base64.StdEncoding.EncodeToString([]byte(`{"_type":"link","name":"a","materials":{},"products":{}}`))
			payload := []string{`"` + link + `"`, `"` + strings.Replace(link, "/", `\/`, 1) + `"`, `"\u0065` + link[1:] + `"`,
				`"` + link[:len(link)-1] + `"`, `"` + link + "\n" + `"`, `null`, `7`, `""`, "\"\xff" + link + `"`}[r.IntN(9)]
			typ := []string{`"application/vnd.in-toto+json"`, `"application/vnd.in-toto\u002bjson"`, `"x"`, `null`}[r.IntN(4)]
			out = append(out, []byte(fmt.Sprintf(`{"payloadType":%s,%s"payload":%s,"signatures":%s}`, typ, ws(), payload, signatures())))
		}
	}
	return out
}

// checkCanonical fails when the one-pass encoder accepts data and
// disagrees with go-securesystemslib's cjson, or when CanonicalJSON's
// answer differs from the library path's.
func checkCanonical(t testing.TB, data []byte) bool {
	t.Helper()
	want, wantErr := attest.LibraryCanonical(data)
	fast, fastErr := attest.FastCanonical(data)
	if fastErr == nil && (wantErr != nil || !bytes.Equal(fast, want)) {
		t.Fatalf("one-pass canonical form of %q:\n%q\nlibrary (cjson): %q, %v", data, fast, want, wantErr)
	}
	got, err := attest.CanonicalJSON(data)
	if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("CanonicalJSON(%q) = %q, %v; library: %q, %v", data, got, err, want, wantErr)
	}
	return fastErr == nil
}

// checkScan fails when the one-pass envelope or link reader accepts data
// and reads other than the library path.
func checkScan(t testing.TB, data []byte) {
	t.Helper()
	want, wantErr := attest.LibraryParseEnvelope(data)
	got, ok := attest.ScanEnvelope(data)
	if ok && (wantErr != nil || got.Form != want.Form || got.PayloadType != want.PayloadType ||
		!bytes.Equal(got.Payload, want.Payload) || !reflect.DeepEqual(got.Signatures, want.Signatures)) {
		t.Fatalf("one-pass envelope of %q: %+v; library: %+v, %v", data, got, want, wantErr)
	}
	if ok {
		// The kind found on the way is PayloadKind's.
		gotKind, gotErr := got.PayloadKind()
		wantKind, wantErr := want.PayloadKind()
		if gotKind != wantKind || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("payload kind of %q: %q, %v; library: %q, %v", data, gotKind, gotErr, wantKind, wantErr)
		}
	}
	if want != nil {
		checkScanLink(t, want)
	}
	if ok {
		// Read the way ParseEnvelope reads it, which knows where the
		// payload's fields are.
		checkScanLink(t, got)
	}
}

// checkScanLink fails when ScanLink accepts env's payload and reads other
// than ParseLink and SignedBytes.
func checkScanLink(t testing.TB, env *attest.Envelope) {
	t.Helper()
	l, signed, ok := attest.ScanLink(env)
	if !ok {
		return
	}
	if kind, err := env.PayloadKind(); err != nil || kind != "link" {
		t.Fatalf("one-pass reader took %q as a link; PayloadKind: %q, %v", env.Payload, kind, err)
	}
	full, err := attest.ParseLink(env.Payload)
	if err != nil {
		t.Fatalf("one-pass reader took %q as a link; ParseLink: %v", env.Payload, err)
	}
	if l.Name != full.Name || !reflect.DeepEqual(l.Command, full.Command) ||
		!reflect.DeepEqual(l.Materials.Map(), full.Materials) || !reflect.DeepEqual(l.Products.Map(), full.Products) {
		t.Fatalf("one-pass link of %q: %+v %v %v; ParseLink: %+v", env.Payload, l, l.Materials.Map(), l.Products.Map(), full)
	}
	msg, err := env.SignedBytes()
	if err != nil || !bytes.Equal(attest.SignedMessage(signed), msg) {
		t.Fatalf("one-pass signed bytes of %q: %q; SignedBytes: %q, %v", env.Payload, attest.SignedMessage(signed), msg, err)
	}
}

func TestCanonicalMatchesCJSON(t *testing.T) {
	accepted, total := 0, 0
	for _, d := range scanCorpus(t) {
		total++
		if checkCanonical(t, d) {
			accepted++
		}
	}
	// The comparison means something only if the one-pass encoder takes
	// most documents.
	if accepted < total/4 {
		t.Fatalf("the one-pass encoder took only %d of %d documents", accepted, total)
	}
	t.Logf("one-pass encoder took %d of %d documents", accepted, total)
}

func TestScanMatchesLibrary(t *testing.T) {
	for _, split := range []bool{false, true} {
		if split {
			defer attest.SplitAlways()()
		}
		for _, d := range scanCorpus(t) {
			checkScan(t, d)
			checkScan(t, []byte(fmt.Sprintf(`{"signed":%s,"signatures":[]}`, d)))
		}
	}
}

// TestFastCanonicalDeclines lists documents the one-pass encoder must
// leave to the library, which refuses them or writes them otherwise.
func TestFastCanonicalDeclines(t *testing.T) {
	for _, d := range []string{
		`{"a":1,"a":2}`, `{"b":1,"a":2,"b":3}`, `{"a":1.5}`, `{"a":1e3}`, `[9223372036854775808]`,
		`"\ud800"`, "\"\xff\"", `{"a":1}x`, `{"a":1,}`, `[1,]`, strings.Repeat("[", 65) + strings.Repeat("]", 65),
		`{"a":01}`, "\"a\nb\"", `tru`, `{"\u0061":1,"a":2}`,
	} {
		if out, err := attest.FastCanonical([]byte(d)); err == nil {
			t.Errorf("one-pass encoder took %q: %q", d, out)
		}
		checkCanonical(t, []byte(d))
	}
}

// TestCanonicalLargeObjects checks objects beyond the few members whose
// order the one-pass encoder fixes itself: sorted, reversed, and out of
// order early or late.
func TestCanonicalLargeObjects(t *testing.T) {
	keys := func(order func(i int) int) []byte {
		var items []string
		for i := range 200 {
			items = append(items, fmt.Sprintf(`"k%03d":{"sha256":"%064x"}`, order(i), i))
		}
		return []byte("{" + strings.Join(items, ",") + "}")
	}
	for name, order := range map[string]func(int) int{
		"sorted":   func(i int) int { return i },
		"reversed": func(i int) int { return 199 - i },
		"early":    func(i int) int { return map[int]int{1: 2, 2: 1}[i] + i*map[bool]int{true: 1}[i > 2] },
		"late": func(i int) int {
			return map[int]int{150: 151, 151: 150}[i] + i*map[bool]int{true: 1}[i != 150 && i != 151]
		},
		"repeated": func(i int) int { return i / 2 },
	} {
		t.Run(name, func(t *testing.T) { checkCanonical(t, keys(order)) })
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, d := range generatedJSON(200) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCanonical(t, data)
		checkScan(t, data)
		restore := attest.SplitAlways()
		defer restore()
		checkScan(t, data)
	})
}
