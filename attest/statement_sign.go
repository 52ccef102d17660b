package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// NewStatement builds an in-toto Statement v1 about one subject, named
// subjectName with digest ("sha256:<lowercase hex>", an image digest), of
// predicateType (an absolute URI, such as https://slsa.dev/provenance/v1),
// with predicate, a JSON object kept as given but for whitespace (numbers
// stay exact). The predicate is checked strictly first (CheckJSON: UTF-8,
// no repeated keys, bounded nesting); the Statement is then read back by
// ParseStatement, so that what is signed is what referee and the
// attestation framework read.
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/statement.md
func NewStatement(subjectName, digest, predicateType string, predicate []byte) ([]byte, error) {
	if subjectName == "" {
		return nil, errors.New("the statement's subject needs a name (the image reference)")
	}
	if !IsSHA256Digest(digest) {
		return nil, fmt.Errorf("subject digest %.80q is not sha256:<64 lowercase hex digits>", digest)
	}
	if err := checkPredicateType(predicateType); err != nil {
		return nil, err
	}
	if err := CheckJSON(predicate, nil); err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	if t := bytes.TrimSpace(predicate); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("predicate: not a JSON object (a Statement's predicate is an object)")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, predicate); err != nil {
		return nil, fmt.Errorf("predicate: %w", jsonError(err))
	}
	type subject struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}
	st := struct {
		Type          string          `json:"_type"`
		Subject       []subject       `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}{StatementTypeV1, []subject{{subjectName, map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}}, predicateType, compact.Bytes()}
	payload, err := marshalPayload(st)
	if err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	if _, err := ParseStatement(payload); err != nil {
		return nil, err
	}
	return payload, nil
}

// checkPredicateType refuses a predicate type that is not an absolute URI.
func checkPredicateType(t string) error {
	if t == "" {
		return errors.New("the statement needs a predicate type (a URI, such as https://slsa.dev/provenance/v1)")
	}
	u, err := url.Parse(t)
	if err != nil || u.Scheme == "" || strings.ContainsAny(t, " \t\r\n") {
		return fmt.Errorf("predicate type %.80q is not an absolute URI (such as https://slsa.dev/provenance/v1)", t)
	}
	return nil
}

// SignStatement signs an in-toto Statement (a payload ParseStatement
// reads, v1 or v0.1) as a DSSE envelope by each signer, as in-toto
// attestations are signed.
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/v1/envelope.md
func SignStatement(statement []byte, signers ...*Signer) (*Envelope, error) {
	if _, err := ParseStatement(statement); err != nil {
		return nil, err
	}
	if len(signers) == 0 {
		return nil, errors.New("no key to sign the statement with")
	}
	return SignPayload(FormDSSE, statement, signers...)
}
