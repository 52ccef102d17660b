package attest_test

import (
	"bytes"
	"crypto/ed25519"
	"math/big"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
)

// ed25519Case is one input to both verifications.
type ed25519Case struct {
	name          string
	pub, msg, sig []byte
}

// le32 is n as 32 little-endian bytes.
func le32(n *big.Int) []byte {
	b := n.FillBytes(make([]byte, 32))
	slices.Reverse(b)
	return b
}

// ed25519Cases are valid signatures over messages on both sides of
// attest.HashChunk, each also mutated, and the edge cases of "Taming the
// many EdDSAs" (Chalkias et al., 2020) that decide what an implementation
// accepts: small-order and non-canonically encoded public keys and R,
// S not reduced, the top bits of S, a point not on the curve.
func ed25519Cases(t testing.TB) []ed25519Case {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	var cs []ed25519Case
	add := func(name string, pub, msg, sig []byte) {
		cs = append(cs, ed25519Case{name, slices.Clone(pub), msg, slices.Clone(sig)})
	}
	for _, n := range []int{0, 1, 100, attest.HashChunk - 1, attest.HashChunk, attest.HashChunk + 1, 3*attest.HashChunk + 17, 1 << 20} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i*31 + n)
		}
		sig := ed25519.Sign(priv, msg)
		add("valid", pub, msg, sig)
		for _, i := range []int{0, 31, 32, 40, 62, 63} {
			bad := slices.Clone(sig)
			bad[i] ^= 1
			add("sig byte flipped", pub, msg, bad)
		}
		if n > 0 {
			for _, i := range []int{0, n / 2, n - 1} {
				other := slices.Clone(msg)
				other[i] ^= 0x80
				add("message byte flipped", pub, other, sig)
			}
		}
		other := slices.Clone(pub)
		other[5] ^= 1
		add("another key", other, msg, sig)
		// S + L: the same scalar, not reduced.
		l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
		be := slices.Clone(sig[32:])
		slices.Reverse(be)
		s := new(big.Int).SetBytes(be)
		add("S + L", pub, msg, append(slices.Clone(sig[:32]), le32(s.Add(s, l))...))
		top := slices.Clone(sig)
		top[63] |= 0x20
		add("S with a top bit set", pub, msg, top)
		add("short signature", pub, msg, sig[:63])
		add("long signature", pub, msg, append(slices.Clone(sig), 0))
	}
	// The identity point, canonical (y = 1) and not (y = p + 1), as the
	// public key and as R, with S = 0: [0]B - [k]A is the identity.
	identity := append([]byte{1}, make([]byte, 31)...)
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	identityNC := le32(new(big.Int).Add(p, big.NewInt(1)))
	zero := make([]byte, 32)
	for _, n := range []int{10, attest.HashChunk + 10} {
		msg := bytes.Repeat([]byte("m"), n)
		add("small-order key, R the identity", identity, msg, append(slices.Clone(identity), zero...))
		add("non-canonical small-order key", identityNC, msg, append(slices.Clone(identity), zero...))
		add("non-canonical R", identity, msg, append(slices.Clone(identityNC), zero...))
		// y = 2 is not the y of a point on the curve.
		off := append([]byte{2}, make([]byte, 31)...)
		add("key not on the curve", off, msg, append(slices.Clone(identity), zero...))
	}
	return cs
}

// TestEd25519MatchesStdlib checks that referee's Ed25519 verification
// (its chunked form, on messages of every length, and the one Key.Verify
// uses) answers as crypto/ed25519.Verify does on every case, and that the
// valid signatures verify.
func TestEd25519MatchesStdlib(t *testing.T) {
	valid := 0
	for _, c := range ed25519Cases(t) {
		want := ed25519.Verify(c.pub, c.msg, c.sig)
		if got := attest.VerifyEd25519Chunked(c.pub, c.msg, c.sig); got != want {
			t.Errorf("%s (message of %d bytes): chunked verification says %v, crypto/ed25519 %v", c.name, len(c.msg), got, want)
		}
		if got := attest.VerifyEd25519(c.pub, c.msg, c.sig); got != want {
			t.Errorf("%s (message of %d bytes): verification says %v, crypto/ed25519 %v", c.name, len(c.msg), got, want)
		}
		if c.name == "valid" && !want {
			t.Errorf("a valid signature over %d bytes does not verify", len(c.msg))
		}
		if want {
			valid++
		}
	}
	// The valid signatures, the small-order key with the identity as R
	// (both encodings: cofactorless verification accepts them, as Go
	// does), and nothing else.
	if valid != 8+4 {
		t.Errorf("%d cases verify, want 12", valid)
	}
	for _, n := range []int{0, 31, 33} {
		if attest.VerifyEd25519(make([]byte, n), []byte("m"), make([]byte, 64)) || attest.VerifyEd25519Chunked(make([]byte, n), []byte("m"), make([]byte, 64)) {
			t.Errorf("a public key of %d bytes verified", n)
		}
	}
}

// FuzzEd25519MatchesStdlib signs a message with a key from the fuzzer's
// seed, flips the bits of the signature and the key that mask says, and
// checks that both verifications answer alike.
func FuzzEd25519MatchesStdlib(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 32), []byte("message"), []byte{}, uint16(0))
	f.Add(bytes.Repeat([]byte{2}, 32), []byte("message"), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20}, uint16(1000))
	for _, c := range ed25519Cases(f) {
		if len(c.pub) == 32 && len(c.msg) < 1000 {
			f.Add(c.pub, c.msg, c.sig, uint16(0))
		}
	}
	f.Fuzz(func(t *testing.T, seed, msg, mask []byte, repeat uint16) {
		if len(seed) != ed25519.SeedSize {
			return
		}
		// repeat stretches the message past HashChunk.
		msg = bytes.Repeat(msg, 1+int(repeat)%200)
		priv := ed25519.NewKeyFromSeed(seed)
		pub := slices.Clone([]byte(priv.Public().(ed25519.PublicKey)))
		sig := ed25519.Sign(priv, msg)
		for i, m := range mask {
			switch {
			case i < 64:
				sig[i] ^= m
			case i < 96:
				pub[i-64] ^= m
			}
		}
		if len(mask) > 96 {
			// The rest of the mask replaces the signature.
			sig = mask[96:]
		}
		want := ed25519.Verify(pub, msg, sig)
		if got := attest.VerifyEd25519Chunked(pub, msg, sig); got != want {
			t.Fatalf("chunked verification says %v, crypto/ed25519 %v (message of %d bytes)", got, want, len(msg))
		}
		if got := attest.VerifyEd25519(pub, msg, sig); got != want {
			t.Fatalf("verification says %v, crypto/ed25519 %v (message of %d bytes)", got, want, len(msg))
		}
	})
}

// BenchmarkEd25519LargeGCWait verifies the signature of a 20 MB message
// (a monorepo link's) on one goroutine while the benchmark's goroutine
// asks for a garbage collection, and reports how long runtime.GC took
// (gcwait-ms/op): the collection must stop every goroutine, and one in a
// hash's assembly cannot be stopped until that call returns. It also
// reports the same wait with crypto/ed25519 (stdlib-gcwait-ms/op), which
// hashes the message in one call.
func BenchmarkEd25519LargeGCWait(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs two Ps: one verifying, one collecting")
	}
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	msg := bytes.Repeat([]byte("0123456789abcdef"), 20<<20/16)
	sig := ed25519.Sign(priv, msg)
	wait := func(verify func() bool) time.Duration {
		var wg sync.WaitGroup
		started := make(chan struct{})
		wg.Go(func() {
			close(started)
			if !verify() {
				b.Error("the signature does not verify")
			}
		})
		<-started
		time.Sleep(2 * time.Millisecond) // into the hash
		t0 := time.Now()
		runtime.GC()
		d := time.Since(t0)
		wg.Wait()
		return d
	}
	var ours, std time.Duration
	for b.Loop() {
		ours += wait(func() bool { return attest.VerifyEd25519(pub, msg, sig) })
		std += wait(func() bool { return ed25519.Verify(pub, msg, sig) })
	}
	b.ReportMetric(float64(ours.Microseconds())/1000/float64(b.N), "gcwait-ms/op")
	b.ReportMetric(float64(std.Microseconds())/1000/float64(b.N), "stdlib-gcwait-ms/op")
}
