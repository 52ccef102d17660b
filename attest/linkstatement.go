package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// linkPredicateSchema is the link predicate v0.3 for CheckJSON: its fields
// are fixed, as a link's are (a "products" in the predicate would be
// ignored by every reader, so it is refused rather than let it look like
// evidence), and materials are ResourceDescriptors.
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/predicates/link.md
var linkPredicateSchema = &Schema{Closed: true, Protobuf: true, Fields: map[string]*Schema{
	"name":        anyValue,
	"command":     anyValue,
	"materials":   {Elem: ResourceDescriptorSchema()},
	"byproducts":  anyValue,
	"environment": anyValue,
}}

// isStatementPayload reports whether a payload says it is an in-toto
// Statement: a hint that routes it to the Statement's reader, which checks
// it exactly.
func isStatementPayload(payload []byte) bool {
	var t struct {
		Type string `json:"_type"`
	}
	if json.Unmarshal(payload, &t) != nil {
		return false
	}
	return t.Type == StatementTypeV1 || t.Type == StatementTypeV01
}

// statementKind is PayloadKind for a Statement of type typ in DSSE: "link"
// for the link predicate, checked against the Statement's fields (no case
// variant of "predicateType"), else typ.
func statementKind(payload []byte, typ string) (string, error) {
	var h struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(payload, &h) != nil || h.PredicateType != PredicateTypeLink {
		return typ, nil
	}
	if err := CheckJSON(payload, StatementSchema(nil)); err != nil {
		return "", fmt.Errorf("link statement: %w", err)
	}
	return "link", nil
}

// parseLinkStatement reads an in-toto Statement (v1, or v0.1 as Witness
// writes it) with the link predicate as the link it stands for, as the
// predicate's specification converts it: name, command, byproducts and
// environment from the predicate, materials from the predicate's
// materials (name → digest), products from the subjects (name → digest).
// Every material and subject needs a name and a digest, and names are
// unique within each list; then the link is checked as any other
// (checkLink: clean paths, hex digests). The Statement is checked by
// ParseStatement (the attestation framework's validation), the predicate
// by its fixed fields and their JSON types.
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/predicates/link.md#converting-to-old-style-links
func parseLinkStatement(payload []byte) (*Link, error) {
	if err := CheckJSON(payload, StatementSchema(linkPredicateSchema)); err != nil {
		return nil, fmt.Errorf("link statement: %w", err)
	}
	var head struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return nil, fmt.Errorf("link statement: %w", jsonError(err))
	}
	if len(head.Predicate) == 0 || string(head.Predicate) == "null" {
		return nil, errors.New("link statement has no predicate")
	}
	if head.Predicate[0] != '{' {
		return nil, errors.New("link statement: the predicate is not a JSON object")
	}
	st, err := ParseStatement(payload)
	if err != nil {
		return nil, fmt.Errorf("link %w", err)
	}
	if st.PredicateType != PredicateTypeLink {
		return nil, fmt.Errorf("statement of predicate type %.80q, not an in-toto link (%s)", st.PredicateType, PredicateTypeLink)
	}
	type descriptor struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}
	var pred struct {
		Name        string         `json:"name"`
		Command     []string       `json:"command"`
		Materials   []descriptor   `json:"materials"`
		Byproducts  map[string]any `json:"byproducts"`
		Environment map[string]any `json:"environment"`
	}
	if err := json.Unmarshal(st.Predicate, &pred); err != nil {
		return nil, fmt.Errorf("link statement predicate: %w", jsonError(err))
	}
	l := &Link{
		Type:        "link",
		Name:        pred.Name,
		Command:     pred.Command,
		Materials:   map[string]HashObj{},
		Products:    map[string]HashObj{},
		Byproducts:  pred.Byproducts,
		Environment: pred.Environment,
	}
	for i, m := range pred.Materials {
		if err := addArtifact(l.Materials, fmt.Sprintf("materials[%d]", i), m.Name, m.Digest); err != nil {
			return nil, fmt.Errorf("link statement predicate: %w", err)
		}
	}
	for i, s := range st.Subject {
		if err := addArtifact(l.Products, fmt.Sprintf("subject[%d]", i), s.Name, s.Digest); err != nil {
			return nil, fmt.Errorf("link statement: %w (the subjects are the link's products)", err)
		}
	}
	return checkLink(l)
}

// addArtifact records one named artifact of a link statement.
func addArtifact(into map[string]HashObj, where, name string, digest map[string]string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s has no name", where)
	case len(digest) == 0:
		return fmt.Errorf("%s (%q) has no digest", where, name)
	}
	if _, dup := into[name]; dup {
		return fmt.Errorf("%s: %q is named twice", where, name)
	}
	into[name] = HashObj(digest)
	return nil
}

// Statement returns the link as an in-toto Statement v1 with the link
// predicate (PredicateTypeLink), the payload ParseLink reads back as this
// link: the products become the subjects and the materials
// ResourceDescriptors, both sorted by name. A link with no products has no
// subject, which a Statement must have.
// https://github.com/in-toto/attestation/blob/v1.1.2/spec/predicates/link.md
func (l *Link) Statement() ([]byte, error) {
	if _, err := checkLink(&Link{Name: l.Name, Materials: l.Materials, Products: l.Products}); err != nil {
		return nil, err
	}
	if len(l.Products) == 0 {
		return nil, fmt.Errorf("link %q has no products: a link statement's subjects are its products, and a statement needs one", l.Name)
	}
	type descriptor struct {
		Name   string  `json:"name"`
		Digest HashObj `json:"digest"`
	}
	list := func(arts map[string]HashObj) []descriptor {
		out := make([]descriptor, 0, len(arts))
		for name, h := range arts {
			out = append(out, descriptor{name, h})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out
	}
	type predicate struct {
		Name        string         `json:"name"`
		Command     []string       `json:"command"`
		Materials   []descriptor   `json:"materials"`
		Byproducts  map[string]any `json:"byproducts"`
		Environment map[string]any `json:"environment"`
	}
	st := struct {
		Type          string       `json:"_type"`
		Subject       []descriptor `json:"subject"`
		PredicateType string       `json:"predicateType"`
		Predicate     predicate    `json:"predicate"`
	}{StatementTypeV1, list(l.Products), PredicateTypeLink, predicate{
		Name: l.Name, Command: nonNil(l.Command), Materials: list(l.Materials),
		Byproducts: nonNilMap(l.Byproducts), Environment: nonNilMap(l.Environment),
	}}
	payload, err := marshalPayload(st)
	if err != nil {
		return nil, fmt.Errorf("link %q as a statement: %w", l.Name, err)
	}
	if _, err := parseLinkStatement(payload); err != nil {
		return nil, err
	}
	return payload, nil
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
