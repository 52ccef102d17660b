package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
)

// maxJSONDepth bounds the nesting of any JSON document referee parses, so a
// hostile file of a million '[' cannot exhaust the stack of a recursive
// encoder.
const maxJSONDepth = 64

// decodeGeneric parses data as one JSON value, keeping numbers as
// json.Number, and refuses trailing data, excessive nesting and repeated
// keys.
func decodeGeneric(data []byte) (any, error) {
	if err := checkJSON(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: trailing data after the document")
	}
	return v, nil
}

// jsonError turns encoding/json's errors into short messages with an offset.
func jsonError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && se.Error() == "unexpected end of JSON input":
		return errors.New("invalid JSON: truncated document")
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: truncated document")
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := "the document"
		if te.Field != "" {
			field = fmt.Sprintf("%q", te.Field)
		}
		return fmt.Errorf("%s is a JSON %s where %s belongs", field, strings.Fields(te.Value + " value")[0], wantedJSON(te.Type))
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// wantedJSON names, in JSON's terms, what a field decoded into t holds.
func wantedJSON(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another kind of value"
}

// checkJSON refuses excessive nesting and repeated object keys, in one
// pass over the bytes, without decoding. Every signed document is checked
// so before it is used: a generic decode keeps the last of two equal keys
// while decoding into structs merges them, so a document with repeated keys
// could be verified as one thing and used as another (and the in-toto
// references read such documents differently again). Keys are compared
// after unescaping ("a" and "\u0061" are one key). Malformed JSON is left
// for the decoder to report.
func checkJSON(data []byte) error {
	var stack []jsonFrame
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			j, escaped := i+1, false
			for ; j < len(data) && data[j] != '"'; j++ {
				if data[j] == '\\' {
					escaped = true
					j++
				}
			}
			if j >= len(data) {
				return nil
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				top := &stack[n-1]
				key := string(data[i+1 : j])
				if escaped {
					if err := json.Unmarshal(data[i:j+1], &key); err != nil {
						return nil
					}
				}
				if top.has(key) {
					return fmt.Errorf("invalid JSON: key %q appears twice in one object", key)
				}
				top.add(key)
				top.expectKey = false
			}
			i = j
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return fmt.Errorf("invalid JSON: nested deeper than %d levels", maxJSONDepth)
			}
			stack = append(stack, jsonFrame{object: c == '{', expectKey: c == '{'})
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		}
	}
	return nil
}

// jsonFrame is one open object or array of checkJSON's scan. Keys are
// kept in a slice while few (most objects of a link have one: "sha256"),
// in a map beyond.
type jsonFrame struct {
	object    bool
	expectKey bool
	keys      []string
	set       map[string]struct{}
}

func (f *jsonFrame) has(key string) bool {
	if f.set != nil {
		_, ok := f.set[key]
		return ok
	}
	for _, k := range f.keys {
		if k == key {
			return true
		}
	}
	return false
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

// CanonicalJSON returns the canonical JSON encoding (the OLPC form used by
// securesystemslib and both in-toto references) of the JSON document data,
// parsed generically so that fields referee does not model are kept exactly.
// See https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#42-file-formats-general-principles.
func CanonicalJSON(data []byte) ([]byte, error) {
	v, err := decodeGeneric(data)
	if err != nil {
		return nil, err
	}
	return canonicalValue(v)
}

// canonicalValue encodes an already-decoded generic value canonically. The
// encoder is go-securesystemslib's, the one in-toto-golang uses; floats are
// refused as the canonical form has no representation for them.
func canonicalValue(v any) ([]byte, error) {
	out, err := cjson.EncodeCanonical(v)
	if err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	return out, nil
}
