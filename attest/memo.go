package attest

import (
	"crypto/sha256"
	"sync"
)

// Memo holds what checking envelopes works out, for envelopes checked
// more than once (referee checks evidence from a registry as it arrives,
// the evidence screen, then in the engine) and for envelopes that a batch
// of images shares (one layout attached to each): the signatures that
// verified, the layouts parsed. See Envelope.Memoize.
//
// A signature is remembered with its key's fingerprint and the SHA-256 of the
// bytes it covers: keyed by all that decides the answer (Key.Verify looks
// at nothing but the public key, the message and the signature), so the
// memo stays right whatever is later done to an envelope's exported
// fields, and whichever *Key, parsed from whichever layout, asks again. A
// layout is remembered by the SHA-256 of its payload, if that is at most
// memoMaxLayoutBytes. A Memo is bounded (memoMaxSignatures,
// memoMaxLayouts): when full, it forgets everything and starts again. It is safe for concurrent use; the zero Memo is ready.
type Memo struct {
	mu      sync.Mutex
	sigs    map[memoSig]struct{}
	layouts map[[sha256.Size]byte]*parsedLayout
}

// Bounds of a Memo: a batch of a thousand images of four links each, and
// the layouts of some projects.
const (
	memoMaxSignatures  = 1 << 14
	memoMaxLayouts     = 16
	memoMaxLayoutBytes = 1 << 20
)

type memoSig struct {
	key, sig string // Key.Fingerprint, the signature
	msg      [sha256.Size]byte
}

type parsedLayout struct {
	l   *Layout
	err error
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo { return &Memo{} }

// Memoize makes e use m (a new Memo when m is nil) for what checking it
// works out: VerifyKey answers a signature already verified with the same
// key over the same bytes with a SHA-256 of the bytes instead of the
// signature scheme's arithmetic, and ParsedLayout parses a payload once.
// It must be called before e is shared.
func (e *Envelope) Memoize(m *Memo) {
	if m == nil {
		m = NewMemo()
	}
	e.memo = m
}

// verify is k.Verify(s's signed bytes, sig), answered from the memo when
// it holds that very check.
func (m *Memo) verify(k *Key, s *SignedContent, sig []byte) error {
	if m == nil {
		return k.Verify(s.msg, sig)
	}
	fp := k.Fingerprint()
	if fp == "" {
		return k.Verify(s.msg, sig)
	}
	entry := memoSig{key: fp, sig: string(sig), msg: *s.msgSum()}
	m.mu.Lock()
	_, ok := m.sigs[entry]
	m.mu.Unlock()
	if ok {
		return nil
	}
	if err := k.Verify(s.msg, sig); err != nil {
		return err
	}
	m.mu.Lock()
	if m.sigs == nil || len(m.sigs) >= memoMaxSignatures {
		m.sigs = map[memoSig]struct{}{}
	}
	m.sigs[entry] = struct{}{}
	m.mu.Unlock()
	return nil
}

// ParsedLayout is ParseLayout(e.Payload); on an envelope that Memoize was
// called on, a payload is parsed once, and the same *Layout given to every
// caller, who must not change it.
func (e *Envelope) ParsedLayout() (*Layout, error) {
	m := e.memo
	if m == nil || len(e.Payload) > memoMaxLayoutBytes {
		return ParseLayout(e.Payload)
	}
	sum := sha256.Sum256(e.Payload)
	m.mu.Lock()
	c, ok := m.layouts[sum]
	m.mu.Unlock()
	if ok {
		return c.l, c.err
	}
	l, err := ParseLayout(e.Payload)
	m.mu.Lock()
	if m.layouts == nil || len(m.layouts) >= memoMaxLayouts {
		m.layouts = map[[sha256.Size]byte]*parsedLayout{}
	}
	m.layouts[sum] = &parsedLayout{l: l, err: err}
	m.mu.Unlock()
	return l, err
}
