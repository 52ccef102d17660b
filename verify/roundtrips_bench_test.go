package verify_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"oras.land/oras-go/v2/registry/remote"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// BenchmarkVerifyRoundTrips measures what `referee verify IMAGE` does
// (promote.Check: open, resolve, verify in full) against a registry one
// round trip (benchRTT) away, for 5, 50 and 500 links, with the image
// named by digest and by tag; each iteration has a fresh HTTP client. It
// reports the wall time in round trips (the goal: at most 2.5), the
// requests, and the round trips and requests of the same verification
// reading every manifest, as before ListedEnvelopes and the listing ahead
// (resolve, list, then manifests and envelopes), in the same iteration.
func BenchmarkVerifyRoundTrips(b *testing.B) {
	reg := newBenchRegistry(b, benchRTT)
	chains := map[int]*benchChain{}
	for _, n := range []int{5, 50, 500} {
		for _, by := range []string{"digest", "tag"} {
			b.Run(fmt.Sprintf("links=%d/by=%s", n, by), func(b *testing.B) {
				c := chains[n]
				if c == nil {
					c = newBenchChain(b, reg.direct, fmt.Sprintf("bench/rt%d", n), n)
					chains[n] = c
				}
				ref := reg.slow + "/" + c.repo + "@" + c.image.Digest.String()
				if by == "tag" {
					ref = reg.slow + "/" + c.repo + ":" + c.tag
				}
				var fast, full time.Duration
				start := reg.proxy.Requests.Load()
				var fullRequests int64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t := time.Now()
					checkOnce(b, ref, c)
					fast += time.Since(t)
					r0 := reg.proxy.Requests.Load()
					t = time.Now()
					verifyEveryManifest(b, ref, c)
					full += time.Since(t)
					fullRequests += reg.proxy.Requests.Load() - r0
				}
				b.StopTimer()
				n := float64(b.N)
				rt := func(d time.Duration) float64 { return float64(d) / n / float64(benchRTT) }
				b.ReportMetric(rt(fast), "round-trips")
				b.ReportMetric(float64(reg.proxy.Requests.Load()-start-fullRequests)/n, "requests")
				b.ReportMetric(rt(full), "round-trips-reading-manifests")
				b.ReportMetric(float64(fullRequests)/n, "requests-reading-manifests")
			})
		}
	}
}

// checkOnce verifies ref as `referee verify REF --layout-key owner.pub`
// does, with a new HTTP client.
func checkOnce(b testing.TB, ref string, c *benchChain) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = oci.DefaultParallel // as oci.Open's transport
	defer tr.CloseIdleConnections()
	o := promote.CheckOptions{
		Full: verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}}},
		OCI:  oci.Options{HTTPClient: &http.Client{Transport: tr}},
	}
	out := promote.Check(context.Background(), ref, o)
	if out.Err != nil || out.Report == nil || !out.Report.Verified {
		b.Fatalf("not verified: %v\n%s", out.Err, reportText(out.Report))
	}
}

// verifyEveryManifest verifies ref as verification did reading every
// referrer's manifest: resolve, then list, then manifests and envelopes
// (the envelopes the listing names fetched beside their manifests), then
// the engine. The store is hidden behind a type of the test's, so that
// oci cannot tell the listing came from the referrers API.
func verifyEveryManifest(b *testing.B, ref string, c *benchChain) {
	ctx := context.Background()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = oci.DefaultParallel
	defer tr.CloseIdleConnections()
	s, _, desc, err := oci.OpenResolved(ctx, ref, oci.Options{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		b.Fatal(err)
	}
	repo, ok := s.(*remote.Repository)
	if !ok {
		b.Fatalf("%s is not a registry", ref)
	}
	w, err := verify.ImageWalk(ctx, hiddenRepository{repo}, desc, verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}}})
	if err != nil || !w.Report.Verified {
		b.Fatalf("not verified: %v\n%s", err, reportText(w.Report))
	}
}

// hiddenRepository is a registry repository that oci does not recognise
// as one (it still lists referrers and fetches blobs by digest).
type hiddenRepository struct{ *remote.Repository }
