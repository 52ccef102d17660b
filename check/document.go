package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/referee-dev/referee/attest"
)

// Bounds on what a check reads. The expression comes from a signed layout,
// but the document comes from a registry that an attacker may be able to
// write to, so its size and nesting are bounded before it is decoded.
const (
	// MaxDocumentBytes is the largest JSON document a check reads: room
	// for the scan report or SBOM of a large image, little enough to decode
	// in memory. Decoded, a document costs up to about 45 bytes of memory
	// a byte at its peak (16 MiB of small numbers: 0.7 GB and 2.7 s
	// before the cost limit; 32 MiB took 1.4 GB and 4.6 s).
	MaxDocumentBytes = 16 << 20
	// MaxDocumentDepth is the deepest nesting of objects and arrays a check
	// reads, the bound attest.CheckJSON puts on every document referee
	// parses.
	MaxDocumentDepth = 64
)

// Statement types whose predicate a check reads: in-toto Statement v1, and
// v0.1, which cosign still writes.
// See https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/statement.md.
var statementTypes = []string{
	"https://in-toto.io/Statement/v1",
	"https://in-toto.io/Statement/v0.1",
}

// A Document is a JSON document read by ReadJSON: its objects, arrays,
// strings, booleans and nulls as CEL sees them, integers as int (uint
// above the int range, double beyond that), other numbers as double.
type Document struct {
	name  string
	value ref.Val
}

// Name is the name the document was read under, for messages.
func (d *Document) Name() string { return d.name }

// ReadJSON reads data, named name in errors (a file, or an attestation of
// an image), with referee's strict reader: one JSON value of at most
// MaxDocumentBytes, UTF-8, no object repeating a key, nesting at most
// MaxDocumentDepth; see attest.CheckJSON. Integers stay exact: 2^53+1 is
// an int, not the nearest double.
func ReadJSON(name string, data []byte) (*Document, error) {
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a check reads", name, len(data), MaxDocumentBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is not JSON: it is empty", name)
	}
	if err := attest.CheckJSON(data, nil); err != nil {
		return nil, refused(name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, notJSON(name, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s is not JSON: more data after the value at byte %d", name, dec.InputOffset())
	}
	val, err := celValue(v, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Document{name: name, value: val}, nil
}

// refused words an error of attest.CheckJSON about the document name.
func refused(name string, err error) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "invalid JSON: "); ok {
		return fmt.Errorf("%s is not JSON a check reads: %s", name, rest)
	}
	if rest, ok := strings.CutPrefix(msg, "invalid JSON "); ok {
		return fmt.Errorf("%s is not JSON: %s", name, rest)
	}
	return fmt.Errorf("%s is not JSON a check reads: %s", name, msg)
}

// notJSON words a decoder error in one line, with the byte offset of a
// syntax error.
func notJSON(name string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s is not JSON: %v (at byte %d)", name, se, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s is not JSON: it ends in the middle of a value", name)
	}
	return fmt.Errorf("%s is not JSON: %v", name, err)
}

// celValue turns v, decoded with UseNumber, into the CEL value a check
// sees, once, so that an evaluation does not convert what it reads.
func celValue(v any, depth int) (ref.Val, error) {
	if depth > MaxDocumentDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", MaxDocumentDepth)
	}
	switch x := v.(type) {
	case nil:
		return types.NullValue, nil
	case bool:
		return types.Bool(x), nil
	case string:
		return types.String(x), nil
	case json.Number:
		n, err := number(x)
		if err != nil {
			return nil, err
		}
		return types.DefaultTypeAdapter.NativeToValue(n), nil
	case map[string]any:
		m := make(map[string]ref.Val, len(x))
		for k, e := range x {
			c, err := celValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = c
		}
		return types.NewMap(types.DefaultTypeAdapter, m), nil
	case []any:
		l := make([]ref.Val, len(x))
		for i, e := range x {
			c, err := celValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = c
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l), nil
	}
	return nil, fmt.Errorf("unexpected %T in a decoded document", v)
}

func number(n json.Number) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %.40s is out of range", s)
	}
	return f, nil
}

// StatementInput reads data, the payload of a verified attestation named
// name in errors, as an in-toto Statement (v1, or v0.1 as cosign writes):
// its predicate is bound to input, the whole statement to statement. It
// checks only the statement's type: who signed it and whom its subject
// names is for the caller to have checked.
func StatementInput(name string, data []byte) (Input, error) {
	doc, err := ReadJSON(name, data)
	if err != nil {
		return Input{}, err
	}
	m, ok := doc.value.(traits.Mapper)
	if !ok {
		return Input{}, fmt.Errorf("%s is not an in-toto Statement: not a JSON object", name)
	}
	field := func(k string) ref.Val {
		v, _ := m.Find(types.String(k))
		return v
	}
	typ, _ := field("_type").(types.String)
	known := false
	for _, t := range statementTypes {
		known = known || string(typ) == t
	}
	if !known {
		return Input{}, fmt.Errorf("%s is not an in-toto Statement: _type is %.80q, not %q", name, string(typ), statementTypes[0])
	}
	if _, ok := field("predicateType").(types.String); !ok {
		return Input{}, fmt.Errorf("%s is not an in-toto Statement: it has no predicateType", name)
	}
	pred := field("predicate")
	if pred == nil {
		pred = types.NullValue
	}
	return Input{
		Document:  &Document{name: name, value: pred},
		Statement: doc,
	}, nil
}
