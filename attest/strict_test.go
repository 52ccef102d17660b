package attest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/referee-dev/referee/attest"
)

// caseVariants returns spellings of key that Go's encoding/json matches
// to key (it folds case, and the Kelvin sign K and long s ſ fold to k and
// s) while the Python reference does not.
func caseVariants(key string) []string {
	var out []string
	add := func(v string) {
		if v != key && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	add(strings.ToUpper(key))
	if i := strings.IndexFunc(key, unicode.IsLetter); i >= 0 {
		add(key[:i] + strings.ToUpper(key[i:i+1]) + key[i+1:])
	}
	add(strings.Replace(key, "k", "\u212a", 1))
	add(strings.Replace(key, "s", "\u017f", 1))
	return out
}

const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hexB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func strictLink(t *testing.T) []byte {
	t.Helper()
	l := &attest.Link{
		Name:        "build",
		Command:     []string{"make"},
		Materials:   map[string]attest.HashObj{"src/a.c": {"sha256": hexA}},
		Products:    map[string]attest.HashObj{"app": {"sha256": hexB, "sha512": hexA + hexB}},
		Byproducts:  map[string]any{"stdout": "ok"},
		Environment: map[string]any{"os": "linux"},
	}
	return mustB(l.Marshal())
}

// strictLayout is layoutFixture's layout, its key with the "private": ""
// that Python-made layouts carry.
func strictLayout(t *testing.T) (doc *oNode, keyID string) {
	t.Helper()
	doc = oParse(t, mustJSON(t, layoutFixture(t)))
	keyID = testSigners(t)["ed25519"].Key().KeyID
	doc.at("keys", keyID, "keyval").set("private", &oNode{raw: []byte(`""`)})
	return doc, keyID
}

// payloadForms parses payload as a link or layout directly, and from a
// signed DSSE envelope and a signed Metablock (the signature valid over
// the hostile bytes), and returns the first error of each.
func payloadForms(t *testing.T, payload []byte, parse func([]byte) error) map[string]error {
	t.Helper()
	s := testSigners(t)["ed25519"]
	out := map[string]error{"payload": parse(payload)}
	for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
		out[form.String()] = func() error {
			env, err := attest.SignPayload(form, payload, s)
			if err != nil {
				return fmt.Errorf("signing: %w", err)
			}
			data, err := env.Marshal()
			if err != nil {
				return err
			}
			back, err := attest.ParseEnvelope(data)
			if err != nil {
				return err
			}
			if err := back.VerifyKey(s.Key()); err != nil {
				return fmt.Errorf("signature: %w", err)
			}
			if _, err := back.PayloadKind(); err != nil {
				return err
			}
			return parse(back.Payload)
		}()
	}
	return out
}

func parseLink(b []byte) error { _, err := attest.ParseLink(b); return err }

func parseLayout(b []byte) error { _, err := attest.ParseLayout(b); return err }

// TestCaseVariantFieldsRefused: for every field of every object of a link
// and a layout (top level, keys, keyval, steps, inspections), a second
// field that differs from it only in case, before or after it, is refused
// with a message naming both, in a payload, a DSSE envelope and a
// Metablock, whatever the signature says.
func TestCaseVariantFieldsRefused(t *testing.T) {
	layout, kid := strictLayout(t)
	for _, doc := range []struct {
		name   string
		doc    *oNode
		parse  func([]byte) error
		places [][]any
	}{
		{"link", oParse(t, strictLink(t)), parseLink, [][]any{{}}},
		{"layout", layout, parseLayout, [][]any{{}, {"keys", kid}, {"keys", kid, "keyval"}, {"steps", 0}, {"steps", 1}, {"inspect", 0}}},
	} {
		if err := doc.parse(doc.doc.bytes()); err != nil {
			t.Fatalf("%s: the honest document: %v", doc.name, err)
		}
		for _, place := range doc.places {
			where := placeName(place)
			obj := doc.doc.at(place...)
			for i, key := range obj.keys {
				for _, variant := range caseVariants(key) {
					for _, before := range []bool{true, false} {
						hostile := doc.doc.clone()
						o := hostile.at(place...)
						at := i + 1
						if before {
							at = i
						}
						o.insert(at, variant, o.vals[i].clone())
						name := fmt.Sprintf("%s/%s/%s/%s/before=%v", doc.name, where, key, variant, before)
						for form, err := range payloadForms(t, hostile.bytes(), doc.parse) {
							if where == "" && key == "_type" && form != "payload" {
								// PayloadKind refuses it first.
								wantCase(t, name+"/"+form, err, "", key, variant)
								continue
							}
							wantCase(t, name+"/"+form, err, where, key, variant)
						}
					}
				}
			}
		}
	}
}

// placeName spells a place as CheckJSON's messages do.
func placeName(place []any) string {
	var b strings.Builder
	for _, p := range place {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		case string:
			if b.Len() > 0 && len(p) == 64 {
				fmt.Fprintf(&b, "[%q]", p) // a keyid in "keys"
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

func wantCase(t *testing.T, name string, err error, where, key, variant string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted", name)
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, fmt.Sprintf("field %q", variant)) || !strings.Contains(msg, fmt.Sprintf("differs from %q only in case", key)) {
		t.Errorf("%s: %v", name, err)
	}
	if where != "" && !strings.Contains(msg, " in "+where+" ") {
		t.Errorf("%s: %v does not say where (%s)", name, err, where)
	}
}

// TestCaseVariantHashesRefused: a hash object with two algorithm names that
// differ only in case is refused; artifact paths, byproducts and
// environment keys that differ only in case are data and accepted.
func TestCaseVariantHashesRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		place []any
		key   string
	}{
		{"material hash", []any{"materials", "src/a.c"}, "sha256"},
		{"product hash", []any{"products", "app"}, "sha512"},
	} {
		for _, variant := range caseVariants(tc.key) {
			doc := oParse(t, strictLink(t))
			o := doc.at(tc.place...)
			o.insert(0, variant, &oNode{raw: []byte(`"` + hexB + `"`)})
			for form, err := range payloadForms(t, doc.bytes(), parseLink) {
				name := tc.name + "/" + variant + "/" + form
				switch {
				case err == nil:
					t.Errorf("%s: accepted", name)
				case !strings.Contains(err.Error(), "differ only in case") || !strings.Contains(err.Error(), fmt.Sprintf("%q", variant)) ||
					!strings.Contains(err.Error(), fmt.Sprintf("%q", tc.key)) || !strings.Contains(err.Error(), placeName(tc.place[:1])):
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	}
	for _, tc := range []struct {
		name  string
		place []any
		key   string
	}{
		{"artifact path", []any{"products"}, "APP"},
		{"byproducts", []any{"byproducts"}, "STDOUT"},
		{"environment", []any{"environment"}, "OS"},
	} {
		doc := oParse(t, strictLink(t))
		o := doc.at(tc.place...)
		o.insert(0, tc.key, o.vals[0].clone())
		for form, err := range payloadForms(t, doc.bytes(), parseLink) {
			if err != nil {
				t.Errorf("%s/%s: %v", tc.name, form, err)
			}
		}
	}
}

// TestCaseVariantEnvelopeFieldsRefused: the fields of both envelope forms
// and of their signatures, repeated in another case, are refused; unknown
// fields are ignored, as both references ignore them.
func TestCaseVariantEnvelopeFieldsRefused(t *testing.T) {
	s := testSigners(t)["ed25519"]
	for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
		env, err := attest.SignPayload(form, strictLink(t), s)
		if err != nil {
			t.Fatal(err)
		}
		doc := oParse(t, mustB(env.Marshal()))
		for _, place := range [][]any{{}, {"signatures", 0}} {
			obj := doc.at(place...)
			for i, key := range obj.keys {
				for _, variant := range caseVariants(key) {
					hostile := doc.clone()
					o := hostile.at(place...)
					o.insert(i+1, variant, o.vals[i].clone())
					_, err := attest.ParseEnvelope(hostile.bytes())
					wantCase(t, form.String()+"/"+placeName(place)+"/"+variant, err, placeName(place), key, variant)
				}
			}
		}
		for _, place := range [][]any{{}, {"signatures", 0}} {
			extended := doc.clone()
			extended.at(place...).set("x-note", &oNode{raw: []byte(`{"any":[1]}`)})
			back, err := attest.ParseEnvelope(extended.bytes())
			if err != nil {
				t.Fatalf("%s: unknown field at %q: %v", form, placeName(place), err)
			}
			if err := back.VerifyKey(s.Key()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestUnknownFieldsRefused: layouts, links, their steps, inspections and
// keys have the spec's fixed fields; any other is refused (in-toto-golang
// refuses them, and Python leaves them out of the bytes it verifies).
func TestUnknownFieldsRefused(t *testing.T) {
	layout, kid := strictLayout(t)
	for _, tc := range []struct {
		name  string
		doc   *oNode
		parse func([]byte) error
		place []any
		field string
		want  string
	}{
		{"link", oParse(t, strictLink(t)), parseLink, nil, "x-extra", `unknown field "x-extra"`},
		{"link near miss", oParse(t, strictLink(t)), parseLink, nil, "product", `unknown field "product" (did you mean "products"?)`},
		{"link protobuf spelling", oParse(t, strictLink(t)), parseLink, nil, "by_products", `unknown field "by_products"`},
		{"layout", layout, parseLayout, nil, "rootcas", `unknown field "rootcas"`},
		{"step", layout, parseLayout, []any{"steps", 1}, "cert_constraints", `unknown field "cert_constraints" in steps[1]`},
		{"inspection", layout, parseLayout, []any{"inspect", 0}, "expected_command", `unknown field "expected_command" in inspect[0]`},
		{"key", layout, parseLayout, []any{"keys", kid}, "expires", `unknown field "expires" in keys["` + kid + `"]`},
		{"keyval", layout, parseLayout, []any{"keys", kid, "keyval"}, "cert", `unknown field "cert" in keys["` + kid + `"].keyval`},
		// in-toto-golang lists a certificate's key with keyval.certificate:
		// read, and refused here only because "x" is no certificate.
		{"keyval certificate", layout, parseLayout, []any{"keys", kid, "keyval"}, "certificate", `certificate is not a PEM certificate`},
	} {
		doc := tc.doc.clone()
		doc.at(tc.place...).set(tc.field, &oNode{raw: []byte(`"x"`)})
		for form, err := range payloadForms(t, doc.bytes(), tc.parse) {
			t.Run(tc.name+"/"+form, func(t *testing.T) { wantErr(t, err, tc.want) })
		}
	}
}

// TestInvalidUTF8Refused: bytes that are not UTF-8 (RFC 8259 §8.1), in a
// path, a value, a field name, a DSSE payload or anywhere in a Metablock,
// are refused with their offset, before anything is canonicalised; Go
// would read each as U+FFFD. The Python reference refuses them too
// (UnicodeDecodeError).
func TestInvalidUTF8Refused(t *testing.T) {
	link := string(strictLink(t))
	for _, bad := range []struct{ name, b string }{
		{"invalid byte", "\xff"},
		{"lone continuation", "\x80"},
		{"overlong 2", "\xc0\xaf"},
		{"overlong 3", "\xe0\x80\xaf"},
		{"overlong 4", "\xf0\x80\x80\xaf"},
		{"encoded surrogate", "\xed\xa0\x80"},
		{"beyond U+10FFFF", "\xf4\x90\x80\x80"},
		{"truncated", "\xe2\x82"},
	} {
		for _, where := range []struct{ name, old, new string }{
			{"value", `"build"`, `"bu` + bad.b + `"`},
			{"path", `"app"`, `"app` + bad.b + `"`},
			{"field name", `"name"`, `"na` + bad.b + `me"`},
			{"hash algorithm", `"sha512"`, `"sha` + bad.b + `"`},
		} {
			payload := strings.Replace(link, where.old, where.new, 1)
			off := strings.Index(payload, bad.b)
			name := bad.name + "/" + where.name
			wantErr(t, parseLink([]byte(payload)), fmt.Sprintf("invalid UTF-8 at byte %d", off))
			_, err := attest.CanonicalJSON([]byte(payload))
			wantErr(t, err, fmt.Sprintf("invalid UTF-8 at byte %d", off))
			_, err = attest.NewEnvelope(attest.FormMetablock, []byte(payload)).SignedBytes()
			wantErr(t, err, "invalid UTF-8")
			_, err = attest.NewEnvelope(attest.FormDSSE, []byte(payload)).SignedBytes()
			wantErr(t, err, fmt.Sprintf("DSSE payload: invalid UTF-8 at byte %d", off))

			dsse := mustB(attest.NewEnvelope(attest.FormDSSE, []byte(payload)).Marshal())
			_, err = attest.ParseEnvelope(dsse)
			t.Run(name+"/dsse", func(t *testing.T) { wantErr(t, err, fmt.Sprintf("DSSE payload: invalid UTF-8 at byte %d", off)) })

			meta := `{"signatures":[],"signed":` + payload + `}`
			_, err = attest.ParseEnvelope([]byte(meta))
			t.Run(name+"/metablock", func(t *testing.T) {
				wantErr(t, err, fmt.Sprintf("invalid UTF-8 at byte %d", strings.Index(meta, bad.b)))
			})
		}
		// The unsigned part of an envelope too.
		meta := `{"signatures":[{"keyid":"ab` + bad.b + `","sig":""}],"signed":` + link + `}`
		_, err := attest.ParseEnvelope([]byte(meta))
		wantErr(t, err, fmt.Sprintf("invalid UTF-8 at byte %d", strings.Index(meta, bad.b)))
	}
}

// TestLoneSurrogatesRefused: a string that escapes half of a UTF-16
// surrogate pair holds no character: Go reads U+FFFD, Python a string that
// in-toto's canonical encoding cannot encode (in-toto 1.3 refuses such a
// link on reading). Whole pairs are characters and pass.
func TestLoneSurrogatesRefused(t *testing.T) {
	link := string(strictLink(t))
	for _, esc := range []string{`\ud800`, `\udfff`, `\ud800\u0041`, `\ud800x`, `\ude00\ud83d`, `\ud800\ud800`, `\uDBFF\n`} {
		for _, where := range []struct{ name, old, new string }{
			{"value", `"build"`, `"bu` + esc + `"`},
			{"end of value", `"build"`, `"build` + esc + `"`},
			{"path", `"app"`, `"` + esc + `app"`},
			{"field name", `"name"`, `"na` + esc + `me"`},
		} {
			payload := strings.Replace(link, where.old, where.new, 1)
			off := strings.Index(payload, esc)
			want := fmt.Sprintf("%s at byte %d is half of a UTF-16 surrogate pair", esc[:6], off)
			for form, err := range map[string]error{
				"link":      parseLink([]byte(payload)),
				"canonical": func() error { _, err := attest.CanonicalJSON([]byte(payload)); return err }(),
				"metablock": func() error {
					_, err := attest.ParseEnvelope([]byte(`{"signatures":[],"signed":` + payload + `}`))
					return err
				}(),
				"dsse": func() error {
					env, err := attest.ParseEnvelope(mustB(attest.NewEnvelope(attest.FormDSSE, []byte(payload)).Marshal()))
					if err != nil {
						return err
					}
					_, err = env.PayloadKind()
					return err
				}(),
			} {
				want := want
				if form == "metablock" {
					want = fmt.Sprintf("%s at byte %d is half", esc[:6], off+len(`{"signatures":[],"signed":`))
				}
				t.Run(esc+"/"+where.name+"/"+form, func(t *testing.T) { wantErr(t, err, want) })
			}
		}
	}
	pair := strings.Replace(link, `"build"`, `"bu\ud83d\ude00ild"`, 1)
	l, err := attest.ParseLink([]byte(pair))
	if err != nil || l.Name != "bu😀ild" {
		t.Fatalf("a surrogate pair: %v %q", err, l.Name)
	}
}

// TestOneSignatureOneDocument: a Metablock signature covers exactly one
// byte string. Before, "\xff", "\ud800" and U+FFFD canonicalised alike, so
// one signature verified three different documents (and two artifacts
// whose names differ in invalid bytes became one).
func TestOneSignatureOneDocument(t *testing.T) {
	s := testSigners(t)["ed25519"]
	honest := strings.Replace(string(strictLink(t)), `"build"`, `"bu�ild"`, 1)
	env, err := attest.SignPayload(attest.FormMetablock, []byte(honest), s)
	if err != nil {
		t.Fatal(err)
	}
	data := string(mustB(env.Marshal()))
	back, err := attest.ParseEnvelope([]byte(data))
	if err != nil || back.VerifyKey(s.Key()) != nil {
		t.Fatalf("the honest metablock: %v", err)
	}
	// The same character escaped is the same document.
	escaped := strings.Replace(data, "bu�ild", `bu\ufffdild`, 1)
	if back, err := attest.ParseEnvelope([]byte(escaped)); err != nil || back.VerifyKey(s.Key()) != nil {
		t.Fatalf("U+FFFD escaped: %v", err)
	}
	for name, hostile := range map[string]string{
		"invalid byte":   strings.Replace(data, "bu�ild", "bu\xffild", 1),
		"lone surrogate": strings.Replace(data, "bu�ild", `bu\ud800ild`, 1),
		"two artifacts":  strings.Replace(data, `"app"`, "\"app\xff\":{\"sha256\":\""+hexA+"\"},\"app\xfe\"", 1),
	} {
		if _, err := attest.ParseEnvelope([]byte(hostile)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		forged := &attest.Envelope{Form: attest.FormMetablock, Payload: []byte(hostile[strings.Index(hostile, `"signed":`)+9 : len(hostile)-2]), Signatures: back.Signatures}
		if err := forged.VerifyKey(s.Key()); err == nil {
			t.Errorf("%s: the signature verifies", name)
		}
	}
}

// TestKeyFilesCaseVariants: a key file whose field differs from a known
// one only in case is refused, so its keyid is the one Python computes.
func TestKeyFilesCaseVariants(t *testing.T) {
	pub := `{"keytype": "ed25519", "scheme": "ed25519", "keyid_hash_algorithms": ["sha256", "sha512"], "keyval": {"public": "07ac9fe58a9d33e940c4a19fe264f344c2a3a176cae4f01de4e0fa455188c864"}}`
	if _, err := attest.ParsePublicKey([]byte(pub)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ old, new, want string }{
		{`"scheme": "ed25519"`, `"scheme": "ed25519", "SCHEME": "x"`, `field "SCHEME" differs from "scheme" only in case`},
		{`"public"`, `"Public": "00", "public"`, `field "Public" in keyval differs from "public" only in case`},
		{`"keyval"`, `"\u212aeyval": {"public": "00"}, "keyval"`, `field "` + "\u212a" + `eyval" differs from "keyval" only in case`},
	} {
		_, err := attest.ParsePublicKey([]byte(strings.Replace(pub, tc.old, tc.new, 1)))
		wantErr(t, err, tc.want)
	}
	// And a layout key on its own.
	_, err := attest.KeyFromLayout("x", []byte(strings.Replace(pub, `"scheme"`, `"Scheme": "rsa", "scheme"`, 1)))
	wantErr(t, err, `field "Scheme" differs from "scheme" only in case`)
}

// TestRepeatedKeysSaySo: a repeated key is named with its place.
func TestRepeatedKeysSaySo(t *testing.T) {
	link := string(strictLink(t))
	for _, tc := range []struct{ old, new, want string }{
		{`"name"`, `"name":"x","name"`, `key "name" appears twice in one object`},
		{`"sha256"`, `"sha256":"` + hexB + `","sha256"`, `key "sha256" appears twice in materials["src/a.c"]`},
		{`"stdout"`, `"stdout":"","stdout"`, `key "stdout" appears twice in byproducts`},
	} {
		wantErr(t, parseLink([]byte(strings.Replace(link, tc.old, tc.new, 1))), tc.want)
	}
	// Broken JSON is reported as such, not by what the scan made of it.
	wantErr(t, parseLink([]byte(`{"name":"a" "name":"b"}`)), "invalid JSON at byte")
	wantErr(t, parseLink([]byte(`{"NAME":"a","name":`)), "truncated")
}

// manyKeys is an object of n keys k0…, then last.
func manyKeys(n int, last string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		fmt.Fprintf(&b, `"k%d":1,`, i)
	}
	return b.String() + last + "}"
}

// TestCheckJSONSchemas: Schema's kinds, and a schema that does not match
// the document's kinds is left for the decoder.
func TestCheckJSONSchemas(t *testing.T) {
	open := &attest.Schema{Fields: map[string]*attest.Schema{"a": nil, "list": {Elem: &attest.Schema{Fields: map[string]*attest.Schema{"b": nil}}}}}
	proto := &attest.Schema{Protobuf: true, Fields: map[string]*attest.Schema{"predicateType": nil, "_type": nil}}
	for _, tc := range []struct {
		name, doc string
		schema    *attest.Schema
		want      string
	}{
		{"open ignores unknown", `{"a":1,"c":2,"list":[{"b":1,"x":2}]}`, open, ""},
		{"open refuses case", `{"A":1}`, open, `field "A" differs from "a" only in case`},
		{"in a list", `{"list":[{"b":1},{"B":1}]}`, open, `field "B" in list[1] differs from "b" only in case`},
		{"kinds not as the schema says", `{"a":1,"list":{"B":{}}}`, open, ""},
		{"top level a list", `[{"A":1}]`, open, ""},
		{"protobuf name", `{"predicate_type":"x"}`, proto, `field "predicate_type" is another spelling of "predicateType"`},
		{"protobuf name of _type", `{"type":"x"}`, proto, `field "type" is another spelling of "_type"`},
		{"protobuf extension", `{"predicate":"x"}`, proto, ""},
		{"map of anything", `{"B":{"A":1},"b":{"a":1}}`, &attest.Schema{Map: &attest.Schema{}}, ""},
		{"fold-unique map", `{"B":1,"b":1}`, &attest.Schema{Map: &attest.Schema{}, FoldUnique: true}, `the document has keys "B" and "b", which differ only in case`},
		{"nil schema", `{"B":1,"b":1}`, nil, ""},
		{"large fold-unique map", manyKeys(40, `"K39":1`), &attest.Schema{Map: &attest.Schema{}, FoldUnique: true}, `keys "k39" and "K39"`},
		{"large fold-unique map, early pair", manyKeys(40, `"K3":1`), &attest.Schema{Map: &attest.Schema{}, FoldUnique: true}, `keys "k3" and "K3"`},
		{"large fold-unique map, honest", manyKeys(40, `"x":1`), &attest.Schema{Map: &attest.Schema{}, FoldUnique: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := attest.CheckJSON([]byte(tc.doc), tc.schema)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
}

// TestRecordingRefusesNonUTF8Names: a file whose name is not UTF-8 cannot
// be recorded: JSON would carry another name (U+FFFD), one for every file
// that differs from it in those bytes. in-toto-run fails on it too.
func TestRecordingRefusesNonUTF8Names(t *testing.T) {
	dir := tree(t, map[string]string{"ok.txt": "x", "dir/a\xff": "1", "dir/a\xfe": "2"})
	_, err := attest.RecordArtifacts(context.Background(), []string{"."}, attest.RecordOptions{Dir: dir})
	wantErr(t, err, `"dir/a\xfe"`, "not UTF-8")
	for _, l := range []*attest.Link{
		{Name: "build", Products: map[string]attest.HashObj{"a\xff": {"sha256": hexA}}},
		{Name: "build", Materials: map[string]attest.HashObj{"a\xc0\xaf": {"sha256": hexA}}},
	} {
		_, err := l.Marshal()
		wantErr(t, err, "not UTF-8")
	}
}
