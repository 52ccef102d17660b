package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

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

	// kind is PayloadKind's answer, found while the envelope was read
	// (scanEnvelope), for the payload kindOf (the same slice); fields are
	// where the payload's fields are, which ScanLink reads in parallel.
	kind   string
	kindOf []byte
	fields []fieldSpan
	// memo, when set (Memoize), holds what checking e worked out.
	memo *Memo
}

// fieldSpan is where the value of a payload's field is.
type fieldSpan struct {
	key        string
	start, end int
}

func (e *Envelope) setKind(kind string, fields []fieldSpan) {
	if kind != "" {
		e.kind, e.kindOf, e.fields = kind, e.Payload, fields
	}
}

// knownKind is the kind found when e was read, if Payload is still the
// slice it was found for.
func (e *Envelope) knownKind() (string, bool) {
	if e.kind == "" || !sameSlice(e.Payload, e.kindOf) {
		return "", false
	}
	return e.kind, true
}

// sameSlice reports whether a and b are one non-empty slice: the same
// bytes in memory, of the same length.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// envelopeJSON is either form, each field as it arrived.
type envelopeJSON struct {
	Signed      json.RawMessage `json:"signed"`
	Signatures  json.RawMessage `json:"signatures"`
	Payload     json.RawMessage `json:"payload"`
	PayloadType json.RawMessage `json:"payloadType"`
}

type signatureJSON struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// ParseEnvelope reads a signed document in either form and checks its
// structure; it does not check signatures. The whole document, and a DSSE
// payload, must be UTF-8 (CheckJSON); fields that differ from the forms'
// only in case are refused, other fields ignored, as the references
// ignore them (they are not signed).
func ParseEnvelope(data []byte) (*Envelope, error) {
	if e, ok := scanEnvelope(data); ok {
		if e.Form == FormMetablock {
			e.Payload = bytes.Clone(e.Payload)
			e.setKind(e.kind, e.fields)
		}
		return e, nil
	}
	return parseEnvelope(data)
}

// parseEnvelope is ParseEnvelope through encoding/json, which also says
// what is wrong.
func parseEnvelope(data []byte) (*Envelope, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("is empty, not a signed in-toto document")
	}
	if t := bytes.TrimSpace(data); bytes.HasPrefix(t, []byte("-----BEGIN ")) {
		return nil, errors.New("is a PEM file (a key or certificate), not a signed in-toto layout or link")
	}
	if err := CheckJSON(data, envelopeSchema); err != nil {
		return nil, fmt.Errorf("not a signed in-toto document (DSSE or Metablock JSON): %w", err)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] != '{' && json.Valid(data) {
		return nil, errors.New("not a signed in-toto document: the top level is not a JSON object")
	}
	var raw envelopeJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a signed in-toto document (DSSE or Metablock JSON): %w", jsonError(err))
	}
	switch hasSigned, hasPayload := raw.Signed != nil, raw.Payload != nil; {
	case hasSigned && hasPayload:
		return nil, errors.New("ambiguous envelope: has both \"signed\" (Metablock) and \"payload\" (DSSE)")
	case hasSigned:
		return parseMetablock(raw)
	case hasPayload:
		return parseDSSE(raw)
	}
	return nil, errors.New("not a signed in-toto document: neither a DSSE envelope (\"payload\") nor a Metablock (\"signed\")")
}

// decodeField decodes one field of an envelope; an absent field leaves v
// as it is.
func decodeField(raw json.RawMessage, name string, v any) error {
	if raw == nil {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%q is a JSON %s where %s belongs", name, strings.Fields(te.Value + " value")[0], wantedJSON(te.Type))
		}
		return jsonError(err)
	}
	return nil
}

func parseMetablock(raw envelopeJSON) (*Envelope, error) {
	var sigs []signatureJSON
	if err := decodeField(raw.Signatures, "signatures", &sigs); err != nil {
		return nil, fmt.Errorf("metablock: %w", err)
	}
	if len(sigs) > maxSignatures {
		return nil, fmt.Errorf("metablock has %d signatures, more than the %d allowed", len(sigs), maxSignatures)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(raw.Signed), []byte("{")) {
		return nil, errors.New("metablock: \"signed\" is not a JSON object")
	}
	e := &Envelope{Form: FormMetablock, Payload: raw.Signed}
	for i, s := range sigs {
		sig, err := hex.DecodeString(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("metablock signature %d: sig is not hex", i)
		}
		e.Signatures = append(e.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	return e, nil
}

func parseDSSE(raw envelopeJSON) (*Envelope, error) {
	var payloadType, payload64 string
	var sigs []signatureJSON
	for _, f := range []struct {
		raw  json.RawMessage
		name string
		v    any
	}{{raw.PayloadType, "payloadType", &payloadType}, {raw.Payload, "payload", &payload64}, {raw.Signatures, "signatures", &sigs}} {
		if err := decodeField(f.raw, f.name, f.v); err != nil {
			return nil, fmt.Errorf("DSSE envelope: %w", err)
		}
	}
	if payloadType != PayloadType {
		return nil, fmt.Errorf("DSSE payloadType is %q, not in-toto's %q", payloadType, PayloadType)
	}
	if len(sigs) > maxSignatures {
		return nil, fmt.Errorf("DSSE envelope has %d signatures, more than the %d allowed", len(sigs), maxSignatures)
	}
	payload, err := decodeB64(payload64)
	if err != nil {
		return nil, errors.New("DSSE payload is not base64")
	}
	// The payload is signed JSON text: UTF-8, no lone surrogate escapes,
	// no repeated keys (its fields are checked when it is read as a layout
	// or link).
	if err := CheckJSON(payload, nil); err != nil {
		return nil, fmt.Errorf("DSSE payload: %w", err)
	}
	e := &Envelope{Form: FormDSSE, PayloadType: payloadType, Payload: payload}
	for i, s := range sigs {
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
// the canonical JSON of a Metablock's "signed" object. A payload that is not
// UTF-8, or that CheckJSON refuses (Metablock), has none.
func (e *Envelope) SignedBytes() ([]byte, error) {
	switch e.Form {
	case FormDSSE:
		if err := checkUTF8(e.Payload); err != nil {
			return nil, fmt.Errorf("DSSE payload: %w", err)
		}
		return dsse.PAE(e.PayloadType, e.Payload), nil
	case FormMetablock:
		return CanonicalJSON(e.Payload)
	}
	return nil, errors.New("envelope of unknown form")
}

// SignedContent is an envelope with the bytes its signatures cover
// (SignedBytes), computed once for checking it against several keys.
type SignedContent struct {
	env *Envelope
	msg []byte
	// sum is the SHA-256 of msg, for the memo, computed once.
	sumOnce sync.Once
	sum     [sha256.Size]byte
}

// msgSum returns the SHA-256 of the signed bytes.
func (s *SignedContent) msgSum() *[sha256.Size]byte {
	s.sumOnce.Do(func() { s.sum = sha256.Sum256(s.msg) })
	return &s.sum
}

// Signed computes the bytes e's signatures cover, for VerifyKey.
func (e *Envelope) Signed() (*SignedContent, error) {
	msg, err := e.SignedBytes()
	if err != nil {
		return nil, err
	}
	return &SignedContent{env: e, msg: msg}, nil
}

// VerifyKey reports whether a signature of e verifies with key. Signatures
// whose keyid is none of the key's (Key.HasID: either in-toto generation's
// keyid) are skipped; DSSE signatures without a keyid are tried.
func (e *Envelope) VerifyKey(key *Key) error {
	s, err := e.Signed()
	if err != nil {
		return err
	}
	return s.VerifyKey(key)
}

// VerifyKey is Envelope.VerifyKey over the bytes already computed.
func (s *SignedContent) VerifyKey(key *Key) error {
	tried := false
	for _, sig := range s.env.Signatures {
		if sig.KeyID != "" && !key.HasID(sig.KeyID) {
			continue
		}
		tried = true
		if s.env.memo.verify(key, s, sig.Sig) == nil {
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
	return appendEnvelope(nil, e)
}

// PayloadKind returns the "_type" of the payload ("layout", "link", or
// another type, which referee refuses to use as either), after CheckJSON
// (a "_TYPE" beside "_type" is refused). An in-toto Statement in DSSE
// whose predicate type is PredicateTypeLink is a "link" (ParseLink reads
// it); any other Statement is its "_type".
func (e *Envelope) PayloadKind() (string, error) {
	if kind, ok := e.knownKind(); ok {
		return kind, nil
	}
	if err := CheckJSON(e.Payload, payloadKindSchema); err != nil {
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
	if e.Form == FormDSSE && (t.Type == StatementTypeV1 || t.Type == StatementTypeV01) {
		return statementKind(e.Payload, t.Type)
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
