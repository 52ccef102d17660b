package oci_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// A small link that the screen trusts keeps the gather's reading of it
// (Document.ScannedLink), the same the engine would read, with the bytes
// its signature covers; a large one, or one gathered without a screen,
// does not.
func TestScannedLinkKeptForSmallTrustedLinks(t *testing.T) {
	c := newTrustChain(t)
	ctx := context.Background()
	small := bigPayload(t, "build", 4<<10)
	large := bigPayload(t, "build", 100<<10)
	for _, tc := range []struct {
		name    string
		payload []byte
		trust   *oci.Trust
		slow    bool // the layout arrives after the link (which waits in the pool)
		want    bool
	}{
		{"small, trusted", small, c.trust(), false, true},
		{"small, trusted once its layout is in", small, c.trust(), true, true},
		{"large, trusted", large, c.trust(), false, false},
		{"small, no screen", small, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := newStore(t, "referrers-api")
			if tc.slow {
				host = newSlowBlobs(t, digest.FromBytes(c.layout).String(), 300*time.Millisecond).host + "/app"
			}
			s := open(t, host)
			image := pushImage(t, s, "img")
			if _, err := oci.Attach(ctx, s, image, c.layout, oci.AttachOptions{}); err != nil {
				t.Fatal(err)
			}
			ref := testenv.AttachRaw(t, s, image, "build", dsseJSON(t, tc.payload, base64.StdEncoding, false, signatures(t, tc.payload, c.f)...))
			_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{Trust: tc.trust}, 0)
			if err != nil {
				t.Fatal(err)
			}
			docs := docsOf(b, ref)
			if len(docs) != 1 {
				t.Fatalf("link kept %d times; skipped %+v", len(docs), b.Skipped)
			}
			l, signed, ok := docs[0].ScannedLink()
			if ok != tc.want {
				t.Fatalf("ScannedLink ok %v, want %v", ok, tc.want)
			}
			if !ok {
				return
			}
			want, _, wantOK := attest.ScanLink(docs[0].Envelope)
			if !wantOK || l.Name != want.Name || l.Products.Len() != want.Products.Len() || l.Materials.Len() != want.Materials.Len() {
				t.Errorf("ScannedLink %q (%d products), ScanLink %q (%d products)", l.Name, l.Products.Len(), want.Name, want.Products.Len())
			}
			if err := signed.VerifyKey(c.f.Key()); err != nil {
				t.Errorf("the scanned link's signature by its functionary: %v", err)
			}
			if err := signed.VerifyKey(c.mallory.Key()); err == nil {
				t.Error("the scanned link verifies with a key that did not sign it")
			}
		})
	}
}
