package attest

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"sync"
)

// envelopeMemo is what checking one envelope worked out (Memoize).
//
// The signatures that verified are kept with their public key and the
// SHA-256 of the bytes they cover: keyed by what decides the answer
// (Key.Verify looks at nothing but the public key, the message and the
// signature), so it stays right whatever is later done to the envelope's
// exported fields, and whichever *Key, parsed from whichever layout, asks
// again. ScanLink's and ParsedLayout's answers are kept for the payload
// they read (the same slice, and for a link the same form and payload
// type, as Envelope.kind is).
type envelopeMemo struct {
	mu     sync.Mutex
	done   []verifiedSig
	link   *scannedLink
	layout *parsedLayout
}

type parsedLayout struct {
	payload []byte
	l       *Layout
	err     error
}

type scannedLink struct {
	form        Form
	payloadType string
	payload     []byte
	l           *CompactLink
	signed      *SignedContent
	ok          bool
}

type verifiedSig struct {
	pub crypto.PublicKey
	sig []byte
	msg [sha256.Size]byte
}

// Memoize makes e remember what checking it works out, for an envelope
// checked twice, as referee does with evidence from a registry (the
// evidence screen as it arrives, then the engine): the signatures
// VerifyKey finds valid, so that checking the same signature with the same
// key over the same bytes again costs a SHA-256 of the bytes instead of
// the signature scheme's arithmetic; the link ScanLink reads; and the
// layout ParsedLayout reads. It must be called before e is shared.
func (e *Envelope) Memoize() {
	if e.memo == nil {
		e.memo = &envelopeMemo{}
	}
}

// scanLink is ScanLink(e), read once for e's payload.
func (m *envelopeMemo) scanLink(e *Envelope) (*CompactLink, *SignedContent, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.link; c != nil && c.form == e.Form && c.payloadType == e.PayloadType && sameSlice(c.payload, e.Payload) {
		return c.l, c.signed, c.ok
	}
	l, signed, ok := scanLink(e)
	m.link = &scannedLink{form: e.Form, payloadType: e.PayloadType, payload: e.Payload, l: l, signed: signed, ok: ok}
	return l, signed, ok
}

// verify is k.Verify(msg, sig), answered from the memo when it holds that
// very check.
func (m *envelopeMemo) verify(k *Key, msg, sig []byte) error {
	if m == nil {
		return k.Verify(msg, sig)
	}
	if m.holds(k, msg, sig) {
		return nil
	}
	if err := k.Verify(msg, sig); err != nil {
		return err
	}
	v := verifiedSig{pub: k.pub, sig: bytes.Clone(sig), msg: sha256.Sum256(msg)}
	m.mu.Lock()
	m.done = append(m.done, v)
	m.mu.Unlock()
	return nil
}

func (m *envelopeMemo) holds(k *Key, msg, sig []byte) bool {
	pub, ok := k.pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false
	}
	m.mu.Lock()
	var want []verifiedSig
	for _, v := range m.done {
		if bytes.Equal(v.sig, sig) && pub.Equal(v.pub) {
			want = append(want, v)
		}
	}
	m.mu.Unlock()
	if len(want) == 0 {
		return false
	}
	sum := sha256.Sum256(msg)
	for _, v := range want {
		if v.msg == sum {
			return true
		}
	}
	return false
}

// ParsedLayout is ParseLayout(e.Payload); on an envelope that Memoize was
// called on, the payload is parsed once and the same *Layout given to
// every caller, who must not change it.
func (e *Envelope) ParsedLayout() (*Layout, error) {
	m := e.memo
	if m == nil {
		return ParseLayout(e.Payload)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.layout; c != nil && sameSlice(c.payload, e.Payload) {
		return c.l, c.err
	}
	l, err := ParseLayout(e.Payload)
	m.layout = &parsedLayout{payload: e.Payload, l: l, err: err}
	return l, err
}
