package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// PayloadType is the DSSE payloadType of in-toto metadata, the only one
// referee accepts. See
// https://github.com/in-toto/attestation/blob/main/spec/v1/envelope.md.
const PayloadType = "application/vnd.in-toto+json"

// maxSignatures bounds how many signatures one envelope may carry, so that a
// hostile file cannot make verification try each of a million signatures.
const maxSignatures = 64

// Form is the envelope form of a signed in-toto document.
type Form int

const (
	// FormDSSE is the Dead Simple Signing Envelope
	// (https://github.com/secure-systems-lab/dsse/blob/v1.0.0/envelope.md).
	FormDSSE Form = iota + 1
	// FormMetablock is the classic in-toto {"signed": …, "signatures": […]}
	// (https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#42-file-formats-general-principles).
	FormMetablock
)

// String names the form as the --format flags spell it.
func (f Form) String() string {
	switch f {
	case FormDSSE:
		return "dsse"
	case FormMetablock:
		return "metablock"
	}
	return "unknown"
}

// Signature is one signature of an envelope with its raw bytes.
type Signature struct {
	KeyID string
	Sig   []byte
}

// Envelope is a signed in-toto layout or link in either envelope form. For
// DSSE, Payload is the decoded payload; for a Metablock it is the "signed"
// value exactly as it arrived. Signatures are always checked over those
// bytes (through PAE or canonical JSON), never over a re-encoding of a
// struct.
type Envelope struct {
	Form        Form
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

type metablockJSON struct {
	Signed     json.RawMessage `json:"signed"`
	Signatures []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// ParseEnvelope reads a signed document in either form and checks its
// structure; it does not check signatures.
func ParseEnvelope(data []byte) (*Envelope, error) {
	if t := bytes.TrimSpace(data); bytes.HasPrefix(t, []byte("-----BEGIN ")) {
		return nil, errors.New("is a PEM file (a key or certificate), not a signed in-toto layout or link")
	}
	v, err := decodeGeneric(data)
	if err != nil {
		return nil, fmt.Errorf("not a signed in-toto document (DSSE or Metablock JSON): %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a signed in-toto document: the top level is not a JSON object")
	}
	// encoding/json matches struct fields case-insensitively, so
	// {"signed": A, "SIGNED": B} would be read as B here and as A by the
	// references: refuse field names that differ only in case.
	for k := range obj {
		for _, f := range []string{"signed", "signatures", "payload", "payloadType"} {
			if k != f && strings.EqualFold(k, f) {
				return nil, fmt.Errorf("ambiguous envelope: field %q (want %q)", k, f)
			}
		}
	}
	_, hasSigned := obj["signed"]
	_, hasPayload := obj["payload"]
	switch {
	case hasSigned && hasPayload:
		return nil, errors.New("ambiguous envelope: has both \"signed\" (Metablock) and \"payload\" (DSSE)")
	case hasSigned:
		return parseMetablock(data)
	case hasPayload:
		return parseDSSE(data)
	}
	return nil, errors.New("not a signed in-toto document: neither a DSSE envelope (\"payload\") nor a Metablock (\"signed\")")
}

func parseMetablock(data []byte) (*Envelope, error) {
	var m metablockJSON
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("metablock: %w", err)
	}
	if len(m.Signatures) > maxSignatures {
		return nil, fmt.Errorf("metablock has %d signatures, more than the %d allowed", len(m.Signatures), maxSignatures)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(m.Signed), []byte("{")) {
		return nil, errors.New("metablock: \"signed\" is not a JSON object")
	}
	e := &Envelope{Form: FormMetablock, Payload: m.Signed}
	for i, s := range m.Signatures {
		sig, err := hex.DecodeString(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("metablock signature %d: sig is not hex", i)
		}
		e.Signatures = append(e.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	return e, nil
}

func parseDSSE(data []byte) (*Envelope, error) {
	var d dsse.Envelope
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("DSSE envelope: %w", err)
	}
	if d.PayloadType != PayloadType {
		return nil, fmt.Errorf("DSSE payloadType is %q, not in-toto's %q", d.PayloadType, PayloadType)
	}
	if len(d.Signatures) > maxSignatures {
		return nil, fmt.Errorf("DSSE envelope has %d signatures, more than the %d allowed", len(d.Signatures), maxSignatures)
	}
	payload, err := d.DecodeB64Payload()
	if err != nil {
		return nil, errors.New("DSSE payload is not base64")
	}
	e := &Envelope{Form: FormDSSE, PayloadType: d.PayloadType, Payload: payload}
	for i, s := range d.Signatures {
		sig, err := decodeB64(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("DSSE signature %d: sig is not base64", i)
		}
		e.Signatures = append(e.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	return e, nil
}

// decodeB64 accepts standard and URL-safe base64, padded or not, as the DSSE
// envelope specification allows.
func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// NewEnvelope wraps an unsigned payload (the JSON of a layout or link) in
// form, ready to be signed.
func NewEnvelope(form Form, payload []byte) *Envelope {
	e := &Envelope{Form: form, Payload: payload}
	if form == FormDSSE {
		e.PayloadType = PayloadType
	}
	return e
}

// SignedBytes returns the bytes that signatures cover: DSSE's
// pre-authentication encoding of the payload
// (https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md), or
// the canonical JSON of a Metablock's "signed" object.
func (e *Envelope) SignedBytes() ([]byte, error) {
	switch e.Form {
	case FormDSSE:
		return dsse.PAE(e.PayloadType, e.Payload), nil
	case FormMetablock:
		return CanonicalJSON(e.Payload)
	}
	return nil, errors.New("envelope of unknown form")
}

// VerifyKey reports whether a signature of e verifies with key. Signatures
// whose keyid names another key are skipped; DSSE signatures without a keyid
// are tried.
func (e *Envelope) VerifyKey(key *Key) error {
	msg, err := e.SignedBytes()
	if err != nil {
		return err
	}
	tried := false
	for _, s := range e.Signatures {
		if s.KeyID != "" && s.KeyID != key.KeyID {
			continue
		}
		tried = true
		if key.Verify(msg, s.Sig) == nil {
			return nil
		}
	}
	if !tried {
		return fmt.Errorf("no signature by key %s", key.KeyID)
	}
	return fmt.Errorf("signature by key %s does not verify over this content", key.KeyID)
}

// Sign adds a signature by s, replacing an earlier signature by the same key.
func (e *Envelope) Sign(s *Signer) error {
	msg, err := e.SignedBytes()
	if err != nil {
		return err
	}
	sig, err := s.Sign(msg)
	if err != nil {
		return err
	}
	kept := e.Signatures[:0]
	for _, old := range e.Signatures {
		if old.KeyID != s.Key().KeyID {
			kept = append(kept, old)
		}
	}
	e.Signatures = append(kept, Signature{KeyID: s.Key().KeyID, Sig: sig})
	return nil
}

// SignerKeyIDs lists the keyids the signatures claim (unverified).
func (e *Envelope) SignerKeyIDs() []string {
	ids := make([]string, 0, len(e.Signatures))
	for _, s := range e.Signatures {
		ids = append(ids, s.KeyID)
	}
	return ids
}

// Marshal encodes the envelope in its form, indented like the references'
// files. A Metablock's "signed" object keeps its fields; only whitespace may
// change, which its canonical signature does not cover.
func (e *Envelope) Marshal() ([]byte, error) {
	type sigJSON struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	sigs := make([]sigJSON, 0, len(e.Signatures))
	var out any
	switch e.Form {
	case FormDSSE:
		for _, s := range e.Signatures {
			sigs = append(sigs, sigJSON{s.KeyID, base64.StdEncoding.EncodeToString(s.Sig)})
		}
		out = struct {
			PayloadType string    `json:"payloadType"`
			Payload     string    `json:"payload"`
			Signatures  []sigJSON `json:"signatures"`
		}{e.PayloadType, base64.StdEncoding.EncodeToString(e.Payload), sigs}
	case FormMetablock:
		for _, s := range e.Signatures {
			sigs = append(sigs, sigJSON{s.KeyID, hex.EncodeToString(s.Sig)})
		}
		out = struct {
			Signatures []sigJSON       `json:"signatures"`
			Signed     json.RawMessage `json:"signed"`
		}{sigs, e.Payload}
	default:
		return nil, errors.New("envelope of unknown form")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PayloadKind returns the "_type" of the payload ("layout", "link", or
// another type, which referee refuses to use as either).
func (e *Envelope) PayloadKind() (string, error) {
	if err := checkJSON(e.Payload); err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	var t struct {
		Type string `json:"_type"`
	}
	if err := json.Unmarshal(e.Payload, &t); err != nil {
		return "", fmt.Errorf("payload: %w", jsonError(err))
	}
	if t.Type == "" {
		return "", errors.New("payload has no \"_type\"")
	}
	return t.Type, nil
}

// SignPayload wraps payload in form and signs it with each signer.
func SignPayload(form Form, payload []byte, signers ...*Signer) (*Envelope, error) {
	e := NewEnvelope(form, payload)
	for _, s := range signers {
		if err := e.Sign(s); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// ParseForm reads an envelope form name: "dsse" or "metablock".
func ParseForm(s string) (Form, error) {
	switch s {
	case "dsse", "":
		return FormDSSE, nil
	case "metablock":
		return FormMetablock, nil
	}
	return 0, fmt.Errorf("envelope form %q: want dsse or metablock", s)
}
