package attest

import "crypto/ed25519"

// Internals that ed25519_test.go compares with crypto/ed25519.

// HashChunk is how many bytes of a message one hash Write takes.
const HashChunk = hashChunk

// VerifyEd25519 is what Key.Verify checks an Ed25519 signature with.
func VerifyEd25519(pub ed25519.PublicKey, msg, sig []byte) bool { return verifyEd25519(pub, msg, sig) }

// VerifyEd25519Chunked is the verification VerifyEd25519 makes of a
// message of more than HashChunk bytes, for messages of any length.
func VerifyEd25519Chunked(pub ed25519.PublicKey, msg, sig []byte) bool {
	return verifyEd25519Chunked(pub, msg, sig)
}
