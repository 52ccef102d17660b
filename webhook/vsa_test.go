package webhook_test

import (
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
	"github.com/referee-dev/referee/webhook"
)

// A rule with only vsaKeys admits what the promoter promoted (its
// verification summary), and nothing else.
func TestDecideVSA(t *testing.T) {
	f := newFixture(t, "")
	promoter, err := attest.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	if err := attest.WriteKeyPair(filepath.Join(f.dir, "promoter"), promoter, true); err != nil {
		t.Fatal(err)
	}
	owner, err := attest.LoadPublicKey(filepath.Join(f.dir, "owner.pub"))
	if err != nil {
		t.Fatal(err)
	}
	src := testenv.Open(t, f.reg.host+"/shop/app")
	desc, err := src.Resolve(t.Context(), f.goodDigest)
	if err != nil {
		t.Fatal(err)
	}
	dst := testenv.Open(t, f.reg.host+"/prod/app")
	if _, err := promote.Promote(t.Context(), src, f.reg.host+"/shop/app", desc, dst, f.reg.host+"/prod/app", "v1", promote.Options{
		Verify: verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{owner}}},
		Signer: promoter,
	}); err != nil {
		t.Fatal(err)
	}
	p, err := webhook.ParsePolicy([]byte(`policies:
  - name: prod
    images: ["`+f.reg.host+`/prod/**", "`+f.reg.host+`/shop/**"]
    vsaKeys: [promoter.pub]
`), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.NewDecider(p, webhook.DeciderOptions{})
	if r := decide(t, d, podReview(t, admissionv1.Create, "prod", f.reg.host+"/prod/app:v1")); !r.Allowed {
		t.Fatalf("promoted image denied: %s", denial(r))
	}
	// Not promoted: no summary, and no layout key to fall back to.
	msg := denial(decide(t, d, podReview(t, admissionv1.Create, "prod", f.good)))
	if !strings.Contains(msg, "image "+f.good) || !strings.Contains(msg, `policy "prod": not verified: no acceptable verification summary for `+f.goodDigest) ||
		!strings.HasSuffix(msg, "(the policy has no layoutKeys for full verification)") {
		t.Fatalf("not promoted: %q", msg)
	}
}
