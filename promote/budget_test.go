package promote_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/demo"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// Large envelopes that nobody trusted signed, attached to an image that
// verifies, are dropped unread: the image still verifies, each time the
// report says what was not read, and the images of a batch, checked at
// once within an evidence budget smaller than their evidence, give all of
// it back when they are done, whether the budget is given or CheckMany's
// own.
func TestCheckManyHostileEvidenceWithinBudget(t *testing.T) {
	ctx := context.Background()
	good := serve(t, false) + "/app"
	dir := t.TempDir()
	image, err := demo.Run(t.Context(), demo.Options{Dir: dir, Registry: good, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := attest.LoadPublicKey(filepath.Join(dir, "owner.pub"))
	if err != nil {
		t.Fatal(err)
	}
	mallory, _ := attest.GenerateKey("")
	s := testenv.Open(t, good)
	_, dg, _ := strings.Cut(image, "@")
	desc, err := s.Resolve(ctx, dg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		testenv.AttachRaw(t, s, desc, "build", testenv.BigLink(t, fmt.Sprintf("build%d", i), 2<<20))
		testenv.AttachRaw(t, s, desc, "build", testenv.BigLink(t, fmt.Sprintf("build%d", i), 2<<20, mallory))
	}
	for _, tc := range []struct {
		name   string
		budget *oci.Budget
	}{
		{"1 MiB budget", oci.NewBudget(1 << 20)},
		{"CheckMany's budget", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := promote.CheckOptions{Full: verify.ImageOptions{
				Options:  verify.Options{LayoutKeys: []*attest.Key{owner}},
				Discover: oci.DiscoverOptions{Trust: &oci.Trust{Keys: []*attest.Key{owner}}, Budget: tc.budget},
			}}
			n := 0
			err := promote.CheckMany(ctx, []string{image, image, image, image}, o, 4, func(out promote.Outcome) error {
				n++
				if out.Err != nil {
					return fmt.Errorf("%s: %w", out.Ref, out.Err)
				}
				notRead := 0
				for _, w := range out.Report.Warnings {
					if strings.Contains(w, "not read") {
						notRead++
					}
				}
				if notRead != 6 {
					return fmt.Errorf("%d warnings say what was not read, want 6: %q", notRead, out.Report.Warnings)
				}
				return nil
			})
			if err != nil || n != 4 {
				t.Fatalf("%d outcomes: %v", n, err)
			}
			// (Each image's share is given back when its context ends,
			// just after its outcome.)
			for deadline := time.Now().Add(5 * time.Second); tc.budget != nil && tc.budget.Used() != 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if tc.budget != nil && tc.budget.Used() != 0 {
				t.Errorf("%d bytes of the budget still held", tc.budget.Used())
			}
		})
	}
}
