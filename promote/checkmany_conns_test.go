package promote_test

import (
	"context"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// The images of a batch share connections to their registry: checked one
// after the other, five images use the connections of one. Each takes one request
// to resolve and one to list its referrers, whose listing carries its
// envelopes (its layout and three links: oci.AnnotationEnvelopeData);
// none for their manifests or envelopes. Named by digest, the listing goes
// out with the resolution.
func TestCheckManySharesConnections(t *testing.T) {
	refs, owner, far := batchImages(t, 5, false)
	o := promote.CheckOptions{Full: verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{owner}}}}
	for _, by := range []string{"tag", "digest"} {
		t.Run(by, func(t *testing.T) {
			batch := refs
			if by == "digest" {
				batch = nil
				for _, r := range refs {
					out := promote.Check(context.Background(), r, o)
					if out.Err != nil {
						t.Fatal(out.Err)
					}
					batch = append(batch, strings.Split(r, ":v1")[0]+"@"+out.Image)
				}
			}
			r0, c0 := far.proxy.Requests.Load(), far.connects.Load()
			checkAll(t, batch, o, 1)
			// As many connections as one image has requests at once
			// (the listing beside the resolution), not that many per
			// image.
			if conns := far.connects.Load() - c0; conns > 2 {
				t.Errorf("%d connections for %d images, want at most 2", conns, len(batch))
			}
			if reqs := far.proxy.Requests.Load() - r0; reqs != int64(2*len(batch)) {
				t.Errorf("%d requests for %d images, want %d", reqs, len(batch), 2*len(batch))
			}
		})
	}
}
