package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// Statement types: v1, and v0.1, which cosign and BuildKit still write.
// See https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/statement.md.
const (
	StatementTypeV1  = "https://in-toto.io/Statement/v1"
	StatementTypeV01 = "https://in-toto.io/Statement/v0.1"
)

// PredicateTypeLink is the in-toto link predicate: a Statement whose
// predicate is a link's fields (name, command, materials, byproducts,
// environment) and whose subjects are the link's products. See
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/predicates/link.md.
const PredicateTypeLink = "https://in-toto.io/attestation/link/v0.3"

// Statement is an in-toto Statement as referee reads one: its type,
// subjects, predicate type, and the predicate as the JSON bytes that
// arrived (so that numbers stay exact).
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/statement.md
type Statement struct {
	Type          string
	Subject       []StatementSubject
	PredicateType string
	Predicate     json.RawMessage
}

// StatementSubject is one subject: a name and its digests (algorithm →
// lowercase hex).
type StatementSubject struct {
	Name   string
	Digest map[string]string
}

// ParseStatement reads a Statement (a DSSE payload of type
// application/vnd.in-toto+json), v1 or v0.1. It passes CheckJSON first (UTF-8,
// no repeated keys, no field that differs from a known one in case or is
// its protobuf name), then the attestation framework's own validation
// (github.com/in-toto/attestation/go/v1: a subject with a digest, hex
// digests of the known algorithms' lengths, a predicate type, a predicate
// object); unknown (extension) fields are ignored, as the framework's
// parsing rules say
// (https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/README.md#parsing-rules).
//
// Only _type, subject and predicateType are decoded: the predicate is
// kept as the bytes that arrived and the framework validates a copy of
// the statement whose predicate is {}, so that a large predicate costs
// no more than CheckJSON's scan and one copy.
func ParseStatement(payload []byte) (*Statement, error) {
	if err := CheckJSON(payload, StatementSchema(nil)); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	var raw struct {
		Type          string             `json:"_type"`
		Subject       []statementSubject `json:"subject"`
		PredicateType string             `json:"predicateType"`
		Predicate     json.RawMessage    `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("statement: %w", jsonError(err))
	}
	if raw.Type != StatementTypeV1 && raw.Type != StatementTypeV01 {
		return nil, fmt.Errorf("statement: _type %.80q is not an in-toto Statement (%s)", raw.Type, StatementTypeV1)
	}
	if p := bytes.TrimLeft(raw.Predicate, " \t\r\n"); len(p) == 0 || p[0] != '{' {
		// The framework's predicate is a JSON object (a protobuf Struct).
		return nil, fmt.Errorf("statement: %w", intoto.ErrPredicateRequired)
	}
	// v0.1 has v1's fields; it is validated as v1.
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: raw.PredicateType, Predicate: &structpb.Struct{}}
	for _, sub := range raw.Subject {
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: sub.Name, Uri: sub.URI, Digest: sub.Digest})
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	s := &Statement{Type: raw.Type, PredicateType: raw.PredicateType, Predicate: raw.Predicate}
	for _, sub := range raw.Subject {
		s.Subject = append(s.Subject, StatementSubject{Name: sub.Name, Digest: sub.Digest})
	}
	return s, nil
}

// statementSubject is what ParseStatement reads of a subject (a
// ResourceDescriptor): what the framework validates of it.
type statementSubject struct {
	Name   string            `json:"name"`
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// ErrOtherSubject is returned by RequireSubject for a statement about
// something else.
var ErrOtherSubject = errors.New("the statement is about another subject")

// NamesDigest reports whether a subject of the statement has the digest d
// ("sha256:<hex>"); algorithms compare case-insensitively, hex exactly
// lowercase.
func (s *Statement) NamesDigest(d string) bool {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || hex == "" {
		return false
	}
	for _, sub := range s.Subject {
		for a, h := range sub.Digest {
			if strings.EqualFold(a, alg) && h == hex {
				return true
			}
		}
	}
	return false
}

// RequireSubject returns ErrOtherSubject (wrapped, naming d) unless a
// subject of the statement has the digest d.
func (s *Statement) RequireSubject(d string) error {
	if !s.NamesDigest(d) {
		return fmt.Errorf("%w: no subject has digest %s", ErrOtherSubject, d)
	}
	return nil
}
