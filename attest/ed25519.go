package attest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"hash"

	"filippo.io/edwards25519"
)

// hashChunk bounds what one Write hands to a hash: 64 KiB, the bound Go's
// crypto/sha256 keeps its assembly to since golang/go#64417. The runtime
// cannot preempt a goroutine inside assembly, and Go 1.26's crypto/sha512
// hashes all of a Write in one assembly call: over a 20 MB link (a
// monorepo step's) that call held each garbage collection's
// stop-the-world for 25 to 60 ms on the machine the bench runs on, with
// every other goroutine of the process stopped (GODEBUG=gctrace=1 shows
// it as the first clock figure of a collection). When Go's crypto/sha512
// bounds its assembly the same way (golang/go#80916 proposed it), Key.Verify
// can call crypto/ed25519 for every message and verifyEd25519Chunked go.
const hashChunk = 64 << 10

// writeChunked writes data to h at most hashChunk bytes at a time, so that
// the goroutine can be preempted between them.
func writeChunked(h hash.Hash, data []byte) {
	for len(data) > hashChunk {
		h.Write(data[:hashChunk])
		data = data[hashChunk:]
	}
	h.Write(data)
}

// verifyEd25519 reports whether sig is pub's Ed25519 signature of msg, as
// crypto/ed25519.Verify does (which it calls for a message of at most
// hashChunk bytes), without holding up the garbage collector over a
// large message (see verifyEd25519Chunked). A public key of the wrong
// length is false, not a panic.
func verifyEd25519(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	if len(msg) <= hashChunk {
		return ed25519.Verify(pub, msg, sig)
	}
	return verifyEd25519Chunked(pub, msg, sig)
}

// verifyEd25519Chunked is Ed25519 verification (RFC 8032 section 5.1.7,
// https://www.rfc-editor.org/rfc/rfc8032#section-5.1.7) step for step as
// Go's crypto/ed25519 does it, on filippo.io/edwards25519 (the package
// Go's own is taken from), so that it accepts exactly what
// ed25519.Verify accepts: S must be canonical (below the group order)
// and its top three bits clear, A may be any encoding of a point on the
// curve that edwards25519 decodes (non-canonical ones included, as most
// implementations do), and the check is cofactorless, [S]B - [k]A
// encoded byte for byte as R. The one difference: msg is hashed in pieces
// of hashChunk bytes (writeChunked). Tests compare it with
// ed25519.Verify on random, mutated and edge-case signatures and by
// fuzzing.
func verifyEd25519Chunked(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || sig[63]&224 != 0 {
		return false
	}
	A, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub)
	writeChunked(h, msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(make([]byte, 0, sha512.Size)))
	if err != nil {
		return false // cannot be: a SHA-512 sum is the 64 bytes it takes
	}
	S, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	// [S]B = R + [k]A, checked as [k](-A) + [S]B = R.
	minusA := new(edwards25519.Point).Negate(A)
	R := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(k, minusA, S)
	return bytes.Equal(sig[:32], R.Bytes())
}
