package attest_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"math/big"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"filippo.io/edwards25519"

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
		want := compareEd25519(t, c.name, c.pub, c.msg, c.sig)
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
// checks that both verifications answer alike; repeat stretches the
// message past attest.HashChunk.
func FuzzEd25519MatchesStdlib(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 32), []byte("message"), []byte{}, uint16(0))
	f.Add(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte("0123456789abcdef"), 64), []byte{}, uint16(100))
	f.Add(bytes.Repeat([]byte{3}, 32), []byte("message"), append(make([]byte, 63), 0x20), uint16(0))
	f.Add(bytes.Repeat([]byte{4}, 32), bytes.Repeat([]byte("x"), 1024), append(make([]byte, 70), 1), uint16(199))
	f.Fuzz(func(t *testing.T, seed, msg, mask []byte, repeat uint16) {
		if len(seed) != ed25519.SeedSize {
			return
		}
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
		compareEd25519(t, "fuzzed", pub, msg, sig)
	})
}

// FuzzEd25519RawMatchesStdlib checks both verifications on keys and
// signatures as the fuzzer makes them, from the edge-case encodings.
func FuzzEd25519RawMatchesStdlib(f *testing.F) {
	for _, e := range edgeEncodings(f) {
		f.Add(e, []byte("m"), append(slices.Clone(e), make([]byte, 32)...), uint16(0))
		f.Add(e, bytes.Repeat([]byte("m"), 1024), append(slices.Clone(e), make([]byte, 32)...), uint16(80))
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte, repeat uint16) {
		if len(pub) != ed25519.PublicKeySize {
			return // crypto/ed25519 panics; verifyEd25519 is false (tested above)
		}
		compareEd25519(t, "fuzzed", pub, bytes.Repeat(msg, 1+int(repeat)%100), sig)
	})
}

// compareEd25519 fails t if either of referee's verifications answers
// otherwise than crypto/ed25519.Verify, and returns that answer.
func compareEd25519(t testing.TB, name string, pub, msg, sig []byte) bool {
	t.Helper()
	want := ed25519.Verify(pub, msg, sig)
	if got := attest.VerifyEd25519Chunked(pub, msg, sig); got != want {
		t.Errorf("%s (message of %d bytes, key %x, signature %x): chunked verification says %v, crypto/ed25519 %v", name, len(msg), pub, sig, got, want)
	}
	if got := attest.VerifyEd25519(pub, msg, sig); got != want {
		t.Errorf("%s (message of %d bytes, key %x, signature %x): verification says %v, crypto/ed25519 %v", name, len(msg), pub, sig, got, want)
	}
	return want
}

// smallOrder are the canonical encodings of the eight points of small
// order (the identity, of order 1, 2, 4 and 8).
var smallOrder = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
}

// edgeEncodings are the small-order points with either sign bit, every
// y below 19 and its non-canonical y + p with either sign bit (small-order
// points among them, and values off the curve), and a few junk values.
func edgeEncodings(t testing.TB) [][]byte {
	var out [][]byte
	for _, h := range smallOrder {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		flip := slices.Clone(b)
		flip[31] ^= 0x80
		out = append(out, b, flip)
	}
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	for y := range int64(19) {
		for _, v := range []*big.Int{big.NewInt(y), new(big.Int).Add(p, big.NewInt(y))} {
			e := le32(v)
			signed := slices.Clone(e)
			signed[31] |= 0x80
			out = append(out, e, signed)
		}
	}
	return append(out, bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0x7f}, 32))
}

// TestEd25519EdgeGrid compares both verifications with crypto/ed25519 on
// every edge-case encoding as the key, the small-order points as R, and
// S at the edges of the group order, over a short message and one that
// takes the chunked path: where implementations of Ed25519 differ
// (Chalkias et al.; the C2SP test vectors Go's own tests use).
func TestEd25519EdgeGrid(t *testing.T) {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	var ss [][]byte
	for _, v := range []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(l, big.NewInt(1)), l, new(big.Int).Add(l, big.NewInt(1)), new(big.Int).Lsh(big.NewInt(1), 253)} {
		ss = append(ss, le32(v))
	}
	ss = append(ss, bytes.Repeat([]byte{0xff}, 32))
	keys := edgeEncodings(t)
	rs := keys[:2*len(smallOrder)]
	accepted := 0
	for _, n := range []int{5, attest.HashChunk + 5} {
		msg := bytes.Repeat([]byte{'z'}, n)
		for _, a := range keys {
			for _, r := range rs {
				for _, s := range ss {
					if compareEd25519(t, "edge case", a, msg, append(slices.Clone(r), s...)) {
						accepted++
					}
				}
			}
		}
	}
	// Cofactorless verification accepts a small-order key with S = 0 and
	// R = [-k]A, which some (k, A) give: the grid must reach both answers.
	if accepted == 0 {
		t.Error("no edge case verifies: the grid tests refusals only")
	}
	t.Logf("%d edge cases verify in both", accepted)
}

// TestEd25519MixedOrderKey signs with keys that are a point of the
// prime-order group plus a point of order 8: cofactorless verification
// (crypto/ed25519's) accepts such a signature only where [k] of the
// small part is the identity. Both verifications must agree on each.
func TestEd25519MixedOrderKey(t *testing.T) {
	t8, _ := hex.DecodeString(smallOrder[4])
	small, err := new(edwards25519.Point).SetBytes(t8)
	if err != nil {
		t.Fatal(err)
	}
	accepted, refused := 0, 0
	for i := range 48 {
		h := sha512.Sum512([]byte{'a', byte(i)})
		a, _ := edwards25519.NewScalar().SetUniformBytes(h[:])
		h = sha512.Sum512([]byte{'r', byte(i)})
		r, _ := edwards25519.NewScalar().SetUniformBytes(h[:])
		pub := new(edwards25519.Point).ScalarBaseMult(a)
		pub.Add(pub, small)
		R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
		for _, n := range []int{7, attest.HashChunk + 7} {
			msg := bytes.Repeat([]byte{byte(i)}, n)
			hh := sha512.New()
			hh.Write(R)
			hh.Write(pub.Bytes())
			hh.Write(msg)
			k, _ := edwards25519.NewScalar().SetUniformBytes(hh.Sum(nil))
			sig := append(slices.Clone(R), edwards25519.NewScalar().MultiplyAdd(k, a, r).Bytes()...)
			if compareEd25519(t, "mixed-order key", pub.Bytes(), msg, sig) {
				accepted++
			} else {
				refused++
			}
		}
	}
	if accepted == 0 || refused == 0 {
		t.Errorf("mixed-order keys: %d accepted, %d refused; want some of each", accepted, refused)
	}
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
