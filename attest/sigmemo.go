package attest

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"sync"
)

// sigMemo remembers the signatures of one envelope that verified: with
// which public key, over the SHA-256 of which bytes. It is keyed by what
// decides the answer (Key.Verify looks at nothing but the public key, the
// message and the signature), so it stays right whatever is later done to
// the envelope's exported fields, and whichever *Key, parsed from whichever
// layout, asks again.
type sigMemo struct {
	mu   sync.Mutex
	done []verifiedSig
}

type verifiedSig struct {
	pub crypto.PublicKey
	sig []byte
	msg [sha256.Size]byte
}

// RememberSignatures makes e remember the signatures VerifyKey finds
// valid, so that checking the same signature with the same key over the
// same bytes again costs a SHA-256 of the bytes instead of the signature
// scheme's arithmetic. It is for an envelope whose signatures are checked
// twice, as referee does with evidence from a registry (the evidence
// screen as it arrives, then the engine); it must be called before e is
// shared.
func (e *Envelope) RememberSignatures() {
	if e.memo == nil {
		e.memo = &sigMemo{}
	}
}

// verify is k.Verify(msg, sig), answered from the memo when it holds that
// very check.
func (m *sigMemo) verify(k *Key, msg, sig []byte) error {
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

func (m *sigMemo) holds(k *Key, msg, sig []byte) bool {
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
