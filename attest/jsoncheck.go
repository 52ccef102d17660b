package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/referee-dev/referee/internal/suggest"
)

// Schema describes the objects of a JSON document for CheckJSON: the
// fields an object has and what their values hold, or that an object is a
// map (its keys are data: paths, key IDs) or a list. A nil *Schema, or one
// with none of Fields, Map and Elem set, allows any value.
type Schema struct {
	// Fields makes the value an object with these fields, each with the
	// schema of its value (nil: any value).
	Fields map[string]*Schema
	// Closed refuses fields not in Fields, as in-toto layouts and links
	// have fixed fields; otherwise other fields are ignored (the extension
	// fields of in-toto Statements).
	Closed bool
	// Protobuf marks a document read by protobuf's JSON reader, which also
	// takes a field's proto name ("predicate_type" for "predicateType"): a
	// field equal to a known one but for case and underscores is refused.
	Protobuf bool
	// Map makes the value an object whose keys are data, each value of
	// schema Map (&Schema{}: any value).
	Map *Schema
	// FoldUnique, for a Map, refuses keys that differ only in case
	// ("sha256" and "SHA256" in a hash object).
	FoldUnique bool
	// Elem makes the value a list, each element of schema Elem.
	Elem *Schema
}

func (s *Schema) record() bool { return s != nil && s.Fields != nil }
func (s *Schema) isMap() bool  { return s != nil && s.Fields == nil && s.Map != nil }
func (s *Schema) isList() bool { return s != nil && s.Fields == nil && s.Map == nil && s.Elem != nil }

// maxJSONDepth bounds the nesting of any JSON document referee parses, so a
// hostile file of a million '[' cannot exhaust the stack of a recursive
// encoder.
const maxJSONDepth = 64

// CheckJSON checks a JSON document before it is decoded, in one pass over
// its bytes, so that what referee reads is exactly what the in-toto
// references read and what was signed:
//
//   - the text is UTF-8 (RFC 8259 §8.1): Go's decoder would replace invalid
//     bytes, overlong encodings and encoded surrogates with U+FFFD, so two
//     different documents would read, and canonicalise, as one;
//   - no string escapes half of a UTF-16 surrogate pair ("\ud800"), which
//     is no character (Go reads U+FFFD, Python a string it cannot encode);
//   - no object repeats a key, compared after unescaping (a generic decode
//     keeps the last, decoding into structs merges them);
//   - nesting is at most 64 levels;
//   - the objects fit schema: no field differs from a known one only in
//     case (Go's struct decoding would merge "Products" into "products",
//     Python reads only "products"), and no unknown field where the schema
//     is closed.
//
// Errors name the place (steps[0], products["app"]) and, for encoding
// errors, the byte offset. Malformed JSON is reported as the decoder
// reports it. See https://www.rfc-editor.org/rfc/rfc8259 and
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#42-file-formats-general-principles.
func CheckJSON(data []byte, schema *Schema) error {
	err := scanJSON(data, schema)
	var se *shapeError
	if errors.As(err, &se) && !json.Valid(data) {
		// A broken document confuses the scan: say what the decoder says.
		var raw json.RawMessage
		return jsonError(json.Unmarshal(data, &raw))
	}
	return err
}

// shapeError is an error CheckJSON reports only for well-formed JSON.
type shapeError struct{ msg string }

func (e *shapeError) Error() string { return e.msg }

func shapeErrorf(format string, args ...any) error {
	return &shapeError{fmt.Sprintf(format, args...)}
}

// jsonFrame is one open object or array of the scan.
type jsonFrame struct {
	object, expectKey bool
	schema            *Schema // what the container is; nil: not checked
	key               string  // the current key (objects)
	index             int     // the current element (arrays)
	pending           *Schema // the schema of the value after key
	// Keys are kept in a slice while few (most objects of a link have
	// one: "sha256"), in a map beyond.
	keys []string
	set  map[string]struct{}
	// folded maps folded keys to the key, for FoldUnique maps.
	folded map[string]string
}

func (f *jsonFrame) has(key string) bool {
	if f.set != nil {
		_, ok := f.set[key]
		return ok
	}
	return slices.Contains(f.keys, key)
}

func (f *jsonFrame) add(key string) {
	if f.set == nil && len(f.keys) < 16 {
		f.keys = append(f.keys, key)
		return
	}
	if f.set == nil {
		f.set = make(map[string]struct{}, 32)
		for _, k := range f.keys {
			f.set[k] = struct{}{}
		}
		f.keys = nil
	}
	f.set[key] = struct{}{}
}

// foldedAdd records key, just added, of a FoldUnique map and returns an
// earlier key that differs from it only in case. Hash objects have one or
// two keys: they are compared in the slice, a map is built beyond.
func (f *jsonFrame) foldedAdd(key string) (string, bool) {
	if f.set == nil {
		for _, k := range f.keys[:len(f.keys)-1] {
			if strings.EqualFold(k, key) {
				return k, true
			}
		}
		return "", false
	}
	if f.folded == nil {
		f.folded = make(map[string]string, len(f.set))
		for k := range f.set {
			if k != key {
				f.folded[foldKey(k)] = k
			}
		}
	}
	fk := foldKey(key)
	if prev, ok := f.folded[fk]; ok {
		return prev, true
	}
	f.folded[fk] = key
	return "", false
}

func scanJSON(data []byte, root *Schema) error {
	var stack []jsonFrame
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			end, escaped, err := scanString(data, i)
			if err != nil {
				return err
			}
			if end < 0 {
				return malformed(data, i)
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				key := string(data[i+1 : end])
				if escaped {
					if json.Unmarshal(data[i:end+1], &key) != nil {
						return malformed(data, i)
					}
				}
				if err := readKey(stack, key); err != nil {
					return err
				}
			}
			i = end
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return fmt.Errorf("invalid JSON: nested deeper than %d levels", maxJSONDepth)
			}
			s := root
			if n := len(stack); n > 0 {
				if top := &stack[n-1]; top.object {
					s = top.pending
				} else if top.schema.isList() {
					s = top.schema.Elem
				} else {
					s = nil
				}
			}
			if (c == '{') != (s.record() || s.isMap()) || (c == '[') != s.isList() {
				s = nil // not what the schema says: the decoder reports that
			}
			stack = append(stack, jsonFrame{object: c == '{', expectKey: c == '{', schema: s})
		case '}', ']':
			if len(stack) == 0 {
				return malformed(data, i)
			}
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 {
				if top := &stack[n-1]; top.object {
					top.expectKey = true
				} else {
					top.index++
				}
			}
		default:
			// Outside strings such bytes are a syntax error, but the
			// text must be UTF-8 first (a UTF-16 BOM, say).
			if c >= utf8.RuneSelf {
				if r, size := utf8.DecodeRune(data[i:]); r == utf8.RuneError && size == 1 {
					return invalidUTF8(i)
				}
			}
		}
	}
	return nil
}

// checkUTF8 refuses bytes that are not UTF-8, naming the first one.
func checkUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	return invalidUTF8(utf8Offset(b))
}

// utf8Offset is the offset of the first byte of b that is not UTF-8.
func utf8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// malformed is the end of a scan that lost its way at data[i]: the decoder
// will report the syntax error, but the text must be UTF-8 first.
func malformed(data []byte, i int) error {
	if utf8.Valid(data[i:]) {
		return nil
	}
	return invalidUTF8(i + utf8Offset(data[i:]))
}

func invalidUTF8(at int) error {
	return fmt.Errorf("invalid UTF-8 at byte %d (JSON text must be UTF-8)", at)
}

// scanString finds the closing quote of the string opening at data[i],
// checking that it is UTF-8 and escapes no lone surrogate. end is -1 for
// a string the decoder will refuse (unterminated, bad escape).
func scanString(data []byte, i int) (end int, escaped bool, err error) {
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return j, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 < len(data) && data[j+1] == 'u' {
				r, ok := hex4(data, j+2)
				if !ok {
					return -1, false, nil
				}
				if utf16IsSurrogate(r) {
					lo, ok := rune(0), false
					if r < 0xdc00 && j+7 < len(data) && data[j+6] == '\\' && data[j+7] == 'u' {
						lo, ok = hex4(data, j+8)
					}
					if !ok || lo < 0xdc00 || lo > 0xdfff {
						return 0, false, fmt.Errorf("invalid JSON: %s at byte %d is half of a UTF-16 surrogate pair, not a character", data[j:j+6], j)
					}
					j += 6
				}
				j += 5
			} else {
				j++
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				return 0, false, invalidUTF8(j)
			}
			j += size - 1
		}
	}
	return -1, false, nil
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func utf16IsSurrogate(r rune) bool { return r >= 0xd800 && r <= 0xdfff }

// readKey checks key, just read in the object on top of stack, and sets
// the schema of its value.
func readKey(stack []jsonFrame, key string) error {
	top := &stack[len(stack)-1]
	if top.has(key) {
		if where := jsonPath(stack[:len(stack)-1]); where != "" {
			return shapeErrorf("invalid JSON: key %q appears twice in %s", key, where)
		}
		return shapeErrorf("invalid JSON: key %q appears twice in one object", key)
	}
	top.add(key)
	top.expectKey = false
	top.key = key
	top.pending = nil
	switch s := top.schema; {
	case s.record():
		if v, ok := s.Fields[key]; ok {
			top.pending = v
			return nil
		}
		return unknownField(stack, s, key)
	case s.isMap():
		top.pending = s.Map
		if s.FoldUnique {
			if prev, ok := top.foldedAdd(key); ok {
				where := jsonPath(stack[:len(stack)-1])
				if where == "" {
					where = "the document"
				}
				return shapeErrorf("%s has keys %q and %q, which differ only in case", where, prev, key)
			}
		}
	}
	return nil
}

// unknownField decides about a field that s does not name.
func unknownField(stack []jsonFrame, s *Schema, key string) error {
	in := ""
	if where := jsonPath(stack[:len(stack)-1]); where != "" {
		in = " in " + where
	}
	names := make([]string, 0, len(s.Fields))
	for name := range s.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		// strings.EqualFold folds as encoding/json matches field names
		// (the Kelvin sign K in "\u212aeyval" is a k).
		if strings.EqualFold(key, name) {
			return shapeErrorf("field %q%s differs from %q only in case", key, in, name)
		}
	}
	if s.Protobuf {
		for _, name := range names {
			if foldKey(strings.ReplaceAll(key, "_", "")) == foldKey(strings.ReplaceAll(name, "_", "")) {
				return shapeErrorf("field %q%s is another spelling of %q", key, in, name)
			}
		}
	}
	if !s.Closed {
		return nil
	}
	if near := suggest.Nearest(key, names, 2); near != "" {
		return shapeErrorf("unknown field %q%s (did you mean %q?)", key, in, near)
	}
	return shapeErrorf("unknown field %q%s", key, in)
}

// foldKey maps each rune of s to the smallest rune it folds to, so that
// foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b).
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// jsonPath names the place of the innermost of frames in the document, as
// in steps[0] or products["dir/app"]; "" is the top level.
func jsonPath(frames []jsonFrame) string {
	var b strings.Builder
	for _, f := range frames {
		switch {
		case !f.object:
			fmt.Fprintf(&b, "[%d]", f.index)
		case f.schema.record():
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		default:
			fmt.Fprintf(&b, "[%q]", f.key)
		}
	}
	return b.String()
}
