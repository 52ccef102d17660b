package oci_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/gcpace"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// hostileLinkBytes is the size of each hostile envelope: under the 16 MiB
// blob limit.
const hostileLinkBytes = 15 << 20

// hostileKinds are the hostile link envelopes of the memory measurements:
// unsigned, signed by a key nobody authorises, or with a signature that
// claims the functionary's key but is not by it (so that it is checked).
var hostileKinds = []string{"unsigned", "self-signed", "forged-keyid"}

// hostileImage pushes an image with the owner's layout and eight 15 MiB
// hostile links of kind, and returns the store's name, the child's
// environment (the store, the owner's key) and the evidence bytes.
func hostileImage(tb testing.TB, kind string) ([]string, int64) {
	tb.Helper()
	c := newTrustChain(tb)
	pub, err := c.owner.Key().MarshalPublicPEM()
	if err != nil {
		tb.Fatal(err)
	}
	keyFile := filepath.Join(tb.TempDir(), "owner.pub")
	if err := os.WriteFile(keyFile, pub, 0o644); err != nil {
		tb.Fatal(err)
	}
	name := newRegistry(tb, true) + "/app"
	s := open(tb, name)
	image := pushImage(tb, s, "img")
	if _, err := oci.Attach(context.Background(), s, image, c.layout, oci.AttachOptions{}); err != nil {
		tb.Fatal(err)
	}
	evidence := int64(len(c.layout))
	for i := range 8 {
		step := fmt.Sprintf("step%d", i)
		var link []byte
		switch kind {
		case "unsigned":
			link = testenv.BigLink(tb, step, hostileLinkBytes)
		case "self-signed":
			link = testenv.BigLink(tb, step, hostileLinkBytes, c.mallory)
		case "forged-keyid":
			env := parseEnvelope(tb, testenv.BigLink(tb, step, hostileLinkBytes, c.mallory))
			env.Signatures[0].KeyID = c.f.Key().KeyID
			link = must(env.Marshal())
		}
		testenv.AttachRaw(tb, s, image, step, link)
		evidence += int64(len(link))
	}
	return []string{"REFEREE_MEM_STORE=" + name, "REFEREE_MEM_KEY=" + keyFile}, evidence
}

// BenchmarkGatherHostileMemory measures the peak resident memory of
// gathering an image's evidence when eight 15 MiB hostile link envelopes
// (hostileKinds) hang from it beside the owner's layout, in a child
// process (the registry serving the evidence runs in this one), as
// verification gathers (trust: only documents signed by trusted keys are
// kept whatever their size) and as pull does (all). It reports the peak
// over the evidence bytes (peakRSS/evidence), the same less the idle
// child's (extraRSS/evidence), and both in MiB.
func BenchmarkGatherHostileMemory(b *testing.B) {
	for _, kind := range hostileKinds {
		env, evidence := hostileImage(b, kind)
		idle, _ := testenv.RunChild(b, "TestGatherMemoryChild", append(env, "REFEREE_MEM_MODE=idle")...)
		for _, mode := range []string{"trust", "all"} {
			b.Run(kind+"/"+mode, func(b *testing.B) {
				testenv.BenchPeakRSS(b, "TestGatherMemoryChild", append(env, "REFEREE_MEM_MODE="+mode), idle, evidence)
			})
		}
	}
}

// Gathering as verification does holds at most 1.5 times the hostile
// evidence plus a small constant (64 MiB) at its peak, whatever the kind
// of hostile link: what is not signed by a trusted key is dropped unread.
func TestGatherHostileMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 360 MiB of evidence")
	}
	if testenv.Race {
		t.Skip("peak RSS under the race detector is the detector's")
	}
	for _, kind := range hostileKinds {
		t.Run(kind, func(t *testing.T) {
			env, evidence := hostileImage(t, kind)
			peak, out := testenv.RunChild(t, "TestGatherMemoryChild", append(env, "REFEREE_MEM_MODE=trust")...)
			if limit := evidence*3/2 + 64<<20; peak > limit {
				t.Errorf("peak RSS %d MiB for %d MiB of evidence, more than %d MiB\n%s", peak>>20, evidence>>20, limit>>20, out)
			}
		})
	}
}

// TestGatherMemoryChild is the child process of the memory measurements:
// it gathers the evidence of the image v1 of REFEREE_MEM_STORE, trusting
// the layout key in REFEREE_MEM_KEY when REFEREE_MEM_MODE is trust, all
// of it when it is all (or only opens the store, when it is idle), and
// prints its peak RSS.
func TestGatherMemoryChild(t *testing.T) {
	if !testenv.InChild() {
		t.Skip("run by BenchmarkGatherHostileMemory and TestGatherHostileMemoryBound")
	}
	gcpace.Start() // the collector paced as the referee command paces it
	ctx := context.Background()
	s := open(t, os.Getenv("REFEREE_MEM_STORE"))
	image, err := s.Resolve(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(os.Getenv("REFEREE_MEM_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := attest.ParsePublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	var o oci.DiscoverOptions
	switch os.Getenv("REFEREE_MEM_MODE") {
	case "idle":
		testenv.PrintPeakRSS(t)
		return
	case "trust":
		o.Trust = &oci.Trust{Keys: []*attest.Key{key}}
	}
	_, b, err := oci.DiscoverAndGather(ctx, s, image, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if o.Trust != nil && (len(b.Layouts) != 1 || len(b.Links) != 0 || len(b.Skipped) != 8) {
		t.Fatalf("gathered %d layouts, %d links, skipped %d; want the layout only, 8 skipped", len(b.Layouts), len(b.Links), len(b.Skipped))
	}
	testenv.PrintPeakRSS(t)
}
