package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
)

// maxJSONDepth bounds the nesting of any JSON document referee parses, so a
// hostile file of a million '[' cannot exhaust the stack of a recursive
// encoder.
const maxJSONDepth = 64

// decodeGeneric parses data as one JSON value, keeping numbers as
// json.Number, and refuses trailing data and excessive nesting.
func decodeGeneric(data []byte) (any, error) {
	if err := checkDepth(data); err != nil {
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
	return fmt.Errorf("invalid JSON: %w", err)
}

// checkDepth refuses JSON nested deeper than maxJSONDepth without decoding it.
func checkDepth(data []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			if depth > maxJSONDepth {
				return fmt.Errorf("invalid JSON: nested deeper than %d levels", maxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
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
