package oci_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// TestConcurrentArtifactsThroughFaults attaches 10 artifacts to one image
// at once, each through its own store, through a proxy failing a tenth of
// the requests, then attaches them all again: every attach succeeds, the
// second round finds every first one (Existed, the same referrer), the
// registry itself lists exactly the 10, and an ArtifactSet read through
// the faults gives every file back.
func TestConcurrentArtifactsThroughFaults(t *testing.T) {
	const writers = 10
	for i, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			be := newBackend(t, kind == "referrers-api")
			image := pushImage(t, open(t, be.host+"/app"), "artifact faults "+kind)
			proxy := testenv.NewFaultProxy(t, be.host, faultRate, uint64(time.Now().UnixNano())+uint64(i))
			files := make([][]byte, writers)
			for i := range files {
				files[i] = fmt.Appendf(nil, `{"report":%d}`, i)
			}
			round := func() ([]string, []bool) {
				got, existed := make([]string, writers), make([]bool, writers)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range writers {
					s := open(t, proxy.Host+"/app")
					wg.Go(func() {
						<-start
						a, err := oci.AttachArtifact(ctx, s, image, fmt.Sprintf("reports/%02d.json", i), files[i], oci.ArtifactOptions{})
						if err != nil {
							t.Errorf("writer %d: %v", i, err)
						}
						got[i], existed[i] = a.Manifest.Digest.String(), a.Existed
					})
				}
				close(start)
				wg.Wait()
				return got, existed
			}
			first, _ := round()
			if t.Failed() {
				t.FailNow()
			}
			again, existed := round()
			for i := range writers {
				if again[i] != first[i] || !existed[i] {
					t.Errorf("writer %d again: %s (existed %v), first %s", i, again[i], existed[i], first[i])
				}
			}
			list, err := oci.ListReferrers(ctx, open(t, be.host+"/app"), image, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(first)
			if l := digestsOf(list); !sameStrings(l, first) {
				t.Fatalf("registry lists %v, attached %v", l, first)
			}
			set, err := oci.NewArtifactSet(ctx, open(t, proxy.Host+"/app"), image, oci.ArtifactSetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range files {
				got, err := set.Artifact(ctx, fmt.Sprintf("reports/%02d.json", i), sha256hex(f))
				if err != nil || !bytes.Equal(got, f) {
					t.Errorf("artifact %d: %q, %v", i, got, err)
				}
			}
			if u := set.Used(); len(u) != writers {
				t.Errorf("used %d", len(u))
			}
			t.Logf("faults: %+v", proxy.Counts())
		})
	}
}
