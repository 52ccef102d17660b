package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
)

// decodeGeneric parses data as one JSON value, keeping numbers as
// json.Number, after CheckJSON's checks (UTF-8, repeated keys, nesting),
// and refuses trailing data.
func decodeGeneric(data []byte) (any, error) {
	if err := CheckJSON(data, nil); err != nil {
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
	// json/v1 of go-json-experiment (ParseLayout) has its own error types
	// until Go 1.27, where they are encoding/json's.
	var se *json.SyntaxError
	var se1 *jsonv1.SyntaxError
	switch {
	case errors.As(err, &se):
		return syntaxError(se.Error(), se.Offset)
	case errors.As(err, &se1):
		return syntaxError(se1.Error(), se1.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: truncated document")
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return typeError(te.Field, te.Value, te.Type)
	}
	var te1 *jsonv1.UnmarshalTypeError
	if errors.As(err, &te1) {
		return typeError(fieldPath(te1.Field), te1.Value, te1.Type)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// syntaxError is a JSON syntax error's message at offset.
func syntaxError(msg string, offset int64) error {
	switch {
	case msg == "unexpected end of JSON input":
		return errors.New("invalid JSON: truncated document")
	case strings.HasSuffix(msg, "after top-level value"):
		return errors.New("invalid JSON: trailing data after the document")
	}
	return fmt.Errorf("invalid JSON at byte %d: %s", offset, msg)
}

// fieldPath writes json/v1's path of a value ("steps.0.name") as CheckJSON
// writes paths ("steps[0].name").
func fieldPath(field string) string {
	var b strings.Builder
	for i, part := range strings.Split(field, ".") {
		switch _, err := strconv.Atoi(part); {
		case err == nil && i > 0:
			b.WriteString("[" + part + "]")
		case i > 0:
			b.WriteString("." + part)
		default:
			b.WriteString(part)
		}
	}
	return b.String()
}

// typeError says that the JSON value at field is of the wrong kind
// (value is the decoder's description of it: "number", "number -5").
func typeError(field, value string, t reflect.Type) error {
	where := "the document"
	if field != "" {
		where = fmt.Sprintf("%q", field)
	}
	return fmt.Errorf("%s is a JSON %s where %s belongs", where, strings.Fields(value + " value")[0], wantedJSON(t))
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

// CanonicalJSON returns the canonical JSON encoding (the OLPC form used by
// securesystemslib and both in-toto references) of the JSON document data,
// parsed generically so that fields referee does not model are kept exactly.
// See https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#42-file-formats-general-principles.
func CanonicalJSON(data []byte) ([]byte, error) {
	if out, err := fastCanonical(data); err == nil {
		return out, nil
	}
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
