package promote_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// A batch given its layout (verify - --layout) verifies every image with
// it, the caller's layout left as it was; given a layout its key did not
// sign, none verifies.
func TestCheckManyGivenLayout(t *testing.T) {
	ctx := context.Background()
	host := testenv.Registry(t, true)
	images, owner := pushBenchImages(t, host, 5, func(i int) string { return fmt.Sprintf("given%d", i) }, "")
	var refs []string
	for _, img := range images {
		refs = append(refs, host+"/"+img.repo+"@"+img.digest.String())
	}
	// The layout, as pushed beside the first image.
	s, _, image, err := oci.OpenResolved(ctx, refs[0], oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := oci.ListReferrers(ctx, s, image, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var layoutRef string
	for _, d := range list {
		if d.Annotations[oci.AnnotationKind] == "layout" {
			layoutRef = host + "/" + images[0].repo + "@" + d.Digest.String()
		}
	}
	cand, err := layoutref.Load(ctx, layoutRef, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := string(cand.Envelope.Payload)
	o := promote.CheckOptions{Full: verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{owner}}, Layout: &cand}}
	checkAll(t, refs, o, 2)
	if string(cand.Envelope.Payload) != before {
		t.Error("the caller's layout changed")
	}

	other, _ := attest.GenerateKey("")
	o.Full.LayoutKeys = []*attest.Key{other.Key()}
	failed := 0
	err = promote.CheckMany(ctx, refs, o, 2, func(out promote.Outcome) error {
		if out.Err != nil && verify.IsNotVerified(out.Err) {
			failed++
		}
		return nil
	})
	if err != nil || failed != len(refs) {
		t.Fatalf("%d of %d not verified with another layout key: %v", failed, len(refs), err)
	}
}
