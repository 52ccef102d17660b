package oci_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// junkStatement is an unsigned DSSE envelope of a Statement about digest
// of type vulnURI whose predicate is an array of n numbers: about 2.7n
// bytes (the payload is base64).
func junkStatement(t testing.TB, digest string, i, n int) []byte {
	t.Helper()
	var b strings.Builder
	b.Grow(2*n + 256)
	fmt.Fprintf(&b, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"junk%d","digest":{"sha256":%q}}],"predicateType":%q,"predicate":{"a":[`, i, strings.TrimPrefix(digest, "sha256:"), vulnURI)
	for j := range n {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('1')
	}
	b.WriteString(`]}}`)
	return mustMarshal(t, attest.NewEnvelope(attest.FormDSSE, []byte(b.String())))
}

// TestFindAttestationsJunk: the review's finding 1. Anyone who can push
// attaches 16 unsigned 14 MB statements of the checked predicate type
// beside one signed good one; with Keys they are skipped after their
// signature check, a few at a time, and the good one is still found.
func TestFindAttestationsJunk(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 224 MB")
	}
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, s, "app")
	signer, err := attest.GenerateKey(attest.KeyTypeECDSA)
	if err != nil {
		t.Fatal(err)
	}
	other, err := attest.GenerateKey(attest.KeyTypeECDSA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.AttachStatement(ctx, s, image, mustMarshal(t, mustSign(t, signer, image.Digest.String())), oci.AttachStatementOptions{}); err != nil {
		t.Fatal(err)
	}
	const junk = 16
	for i := range junk {
		env := junkStatement(t, image.Digest.String(), i, 5<<20)
		if len(env) < 13e6 || len(env) > oci.DefaultMaxBlobBytes {
			t.Fatalf("junk is %d bytes", len(env))
		}
		if _, err := oci.AttachReferrer(ctx, s, image, oci.Referrer{ArtifactType: oci.ArtifactTypeStatementDSSE, LayerMediaType: oci.MediaTypeDSSE, Data: env}); err != nil {
			t.Fatal(err)
		}
	}

	// Live heap, not garbage: collect often while measuring.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var (
		peak uint64
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	start := time.Now()
	got, err := oci.ReadAttestations(ctx, s, image, oci.AttestationOptions{PredicateType: vulnURI, Keys: []*attest.Key{other.Key(), signer.Key()}})
	took := time.Since(start)
	close(stop)
	wg.Wait()
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	peakMB := float64(peak-min(peak, base.HeapAlloc)) / 1e6
	t.Logf("%d junk statements: %v, peak heap %.0f MB above the start, %.0f MB allocated", junk, took.Round(time.Millisecond), peakMB, float64(end.TotalAlloc-base.TotalAlloc)/1e6)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, a := range got.Found {
		sources = append(sources, a.Source)
	}
	if len(got.Found) != 1 || got.Found[0].Envelope == nil || got.Found[0].Envelope.VerifyKey(signer.Key()) != nil {
		t.Fatalf("found %d, want the signed one: %v", len(got.Found), sources)
	}
	if len(got.Skipped) != junk {
		t.Fatalf("skipped %d, want %d: %+v", len(got.Skipped), junk, got.Skipped)
	}
	for _, sk := range got.Skipped {
		if !strings.Contains(sk.Reason, "not signed by any of the keys "+other.Key().ShortID()) {
			t.Errorf("skipped: %s", sk.Reason)
		}
	}
	// The time bound is a guard against a hang, not a speed goal; the race
	// detector makes the scan of the junk about forty times slower.
	if peakMB > 200 || (took > 30*time.Second && !testenv.Race) {
		t.Errorf("junk cost %v and %.0f MB of heap, want < 30 s and < 200 MB", took, peakMB)
	}

	// Without Keys the junk is a Statement like any other: the screen,
	// not a parse failure, is what skipped it.
	all, err := oci.FindAttestations(ctx, s, image, oci.AttestationOptions{PredicateType: vulnURI})
	if err != nil || len(all) != junk+1 {
		t.Fatalf("without keys: %v, %d found", err, len(all))
	}
}
