package verify_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// benchRTT is the round-trip time the latency proxy adds to each request.
const benchRTT = 20 * time.Millisecond

// BenchmarkVerifyImage measures `referee verify IMAGE` against a registry
// one round trip (benchRTT) away, for 5 and 50 links: each iteration opens
// a fresh store (new HTTP client, nothing cached), resolves the tag once,
// and verifies the image from its referrers. Besides ns/op it reports the
// requests per verification, the wall time in round trips (the goal is
// fewer than 5 whatever the number of links) and ms/op.
func BenchmarkVerifyImage(b *testing.B) {
	reg := newBenchRegistry(b, benchRTT)
	for _, n := range []int{5, 50} {
		var c *benchChain // built once, although the function runs for b.N=1 first
		b.Run(fmt.Sprintf("links=%d", n), func(b *testing.B) {
			if c == nil {
				c = newBenchChain(b, reg.direct, fmt.Sprintf("bench/links%d", n), n)
			}
			ref := reg.slow + "/" + c.repo + ":" + c.tag
			start := reg.proxy.Requests.Load()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				verifyImageOnce(b, ref, c)
			}
			b.StopTimer()
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(reg.proxy.Requests.Load()-start)/float64(b.N), "requests/op")
			b.ReportMetric(float64(perOp)/float64(benchRTT), "round-trips/op")
			b.ReportMetric(float64(perOp)/float64(time.Millisecond), "ms/op")
		})
	}
}

// BenchmarkVerifyVsInTotoGolang times, in one run and on the same 5-step
// layout and links, referee verifying the image from the in-process
// registry (no added latency; fresh store, tag resolved, each time) and
// `in-toto-golang verify` on the same files written to a directory (one
// process per iteration, as a user runs it). ns/op is the sum of both; the
// metrics give each one and their ratio.
func BenchmarkVerifyVsInTotoGolang(b *testing.B) {
	b.Run("links=5", func(b *testing.B) {
		bin := inTotoGolang()
		if bin == "" {
			b.Skip("in-toto-golang not installed (go install github.com/in-toto/in-toto-golang@v0.11.0)")
		}
		reg := newBenchRegistry(b, 0)
		c := newBenchChain(b, reg.direct, "bench/vs", 5)
		dir := b.TempDir()
		c.writeFiles(b, dir)
		peer := func() *exec.Cmd {
			return exec.Command(bin, "verify", "-l", filepath.Join(dir, "root.layout"),
				"-k", filepath.Join(dir, "owner.pub"), "-d", filepath.Join(dir, "links"))
		}
		// The comparison is only fair if in-toto-golang verifies too.
		if out, err := peer().CombinedOutput(); err != nil {
			b.Fatalf("in-toto-golang verify: %v\n%s", err, out)
		}
		ref := reg.direct + "/" + c.repo + ":" + c.tag
		var referee, golang time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t := time.Now()
			verifyImageOnce(b, ref, c)
			referee += time.Since(t)
			t = time.Now()
			if out, err := peer().CombinedOutput(); err != nil {
				b.Fatalf("in-toto-golang verify: %v\n%s", err, out)
			}
			golang += time.Since(t)
		}
		b.StopTimer()
		ms := func(d time.Duration) float64 { return float64(d) / float64(b.N) / float64(time.Millisecond) }
		b.ReportMetric(ms(referee), "referee-ms/op")
		b.ReportMetric(ms(golang), "in-toto-golang-ms/op")
		b.ReportMetric(float64(referee)/float64(golang), "x-vs-in-toto-golang")
	})
}

// verifyImageOnce does what `referee verify REF --layout-key owner.pub`
// does: open the store with a new HTTP client, resolve the tag once,
// verify; it fails the benchmark unless the image verifies.
func verifyImageOnce(b *testing.B, ref string, c *benchChain) {
	ctx := context.Background()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	s, _, desc, err := oci.OpenResolved(ctx, ref, oci.Options{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		b.Fatal(err)
	}
	if desc.Digest != c.image.Digest {
		b.Fatalf("%s resolved to %s, want %s", ref, desc.Digest, c.image.Digest)
	}
	r, err := verify.Image(ctx, s, desc, verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}}})
	if err != nil || r == nil || !r.Verified {
		b.Fatalf("not verified: %v\n%s", err, reportText(r))
	}
}
