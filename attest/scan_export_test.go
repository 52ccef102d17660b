package attest

import (
	"encoding/json"
	"reflect"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Internals that canonscan_test.go compares with the library path.

// FastCanonical is the one-pass canonical encoder alone (nil, error when
// it declines).
func FastCanonical(data []byte) ([]byte, error) { return fastCanonical(data) }

// LibraryCanonical is the canonical form through encoding/json and
// go-securesystemslib's cjson, as CanonicalJSON computes it when the
// fast encoder declines.
func LibraryCanonical(data []byte) ([]byte, error) {
	v, err := decodeGeneric(data)
	if err != nil {
		return nil, err
	}
	return canonicalValue(v)
}

// ScanEnvelope is the one-pass envelope reader alone.
func ScanEnvelope(data []byte) (*Envelope, bool) { return scanEnvelope(data) }

// LibraryParseEnvelope is ParseEnvelope through encoding/json.
func LibraryParseEnvelope(data []byte) (*Envelope, error) { return parseEnvelope(data) }

// SignedMessage is what s's signatures are checked over.
func SignedMessage(s *SignedContent) []byte { return s.msg }

// SplitAlways makes ScanLink read materials and products on two cores
// whatever their size, until the returned function is called.
func SplitAlways() (restore func()) {
	old := minSplit
	minSplit = 0
	return func() { minSplit = old }
}

// LayoutDecodings decodes a layout payload as ParseLayout does (json/v1
// of go-json-experiment) and with encoding/json, and says whether the two
// agree: the same layout, or an error from both.
func LayoutDecodings(payload []byte) (agree bool, fast, std error) {
	var a, b layoutJSON
	fast, std = jsonv1.Unmarshal(payload, &a), json.Unmarshal(payload, &b)
	if fast != nil || std != nil {
		return fast != nil && std != nil, fast, std
	}
	return reflect.DeepEqual(a, b), nil, nil
}
