package promote_test

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/demo"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/registry"
	"github.com/referee-dev/referee/verify"
)

func serve(t *testing.T, noReferrers bool) string {
	t.Helper()
	h, err := registry.New(registry.Options{NoReferrers: noReferrers})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPromote(t *testing.T) {
	ctx := context.Background()
	staging := serve(t, false) + "/app"
	prod := serve(t, true) + "/app" // production has only the tag schema
	dir := t.TempDir()
	image, err := demo.Run(ctx, demo.Options{Dir: dir, Registry: staging, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := attest.LoadPublicKey(filepath.Join(dir, "owner.pub"))
	if err != nil {
		t.Fatal(err)
	}
	promoter, _ := attest.GenerateKey("")
	opts := promote.Options{Verify: verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{owner}}}, Signer: promoter}

	src, srcRef, desc, err := oci.OpenResolved(ctx, image, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dstRef, _ := oci.ParseReference(prod + ":release")
	dst, err := oci.Open(ctx, dstRef, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// Dry run: verified, nothing copied.
	dry := opts
	dry.DryRun = true
	res, err := promote.Promote(ctx, src, srcRef.Name(), desc, dst, dstRef.Name(), "release", dry)
	if err != nil || !res.Report.Verified || len(res.Graph.Referrers) != 4 {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	if ok, _ := dst.Exists(ctx, desc); ok {
		t.Fatal("dry run copied the image")
	}

	res, err = promote.Promote(ctx, src, srcRef.Name(), desc, dst, dstRef.Name(), "release", opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := oci.Resolve(ctx, dst, dstRef)
	if err != nil || got.Digest != desc.Digest {
		t.Fatalf("destination tag: %v %v", got.Digest, err)
	}
	list, _ := oci.ListReferrers(ctx, dst, desc, "", 0)
	if len(list) != 5 {
		t.Fatalf("destination has %d referrers, want 4 and the VSA", len(list))
	}
	acc, err := promote.CheckVSA(ctx, dst, desc, promote.VSAPolicy{Keys: []*attest.Key{promoter.Key()}})
	if err != nil || acc.Summary.Result != "PASSED" || acc.Summary.Layout != res.Report.Layout.Digest || acc.Referrer.Digest != res.VSA.Digest {
		t.Fatalf("CheckVSA: %+v %v", acc, err)
	}
	// The promoted copy verifies in full too.
	if _, err := verify.Image(ctx, dst, desc, opts.Verify); err != nil {
		t.Fatal(err)
	}

	// Idempotent: no second VSA, no new referrer.
	again, err := promote.Promote(ctx, src, srcRef.Name(), desc, dst, dstRef.Name(), "release", opts)
	if err != nil || !again.VSAExisted || again.VSA.Digest != res.VSA.Digest {
		t.Fatalf("second promote: %+v %v", again, err)
	}
	if list, _ := oci.ListReferrers(ctx, dst, desc, "", 0); len(list) != 5 {
		t.Fatalf("second promote left %d referrers", len(list))
	}

	// A pinned layout other than the one verified, or a maximum age the
	// summary exceeds, refuses it.
	if _, err := promote.CheckVSA(ctx, dst, desc, promote.VSAPolicy{Keys: []*attest.Key{promoter.Key()}, Layout: "sha256:" + strings.Repeat("0", 64)}); err == nil {
		t.Fatal("a VSA accepted for another layout")
	}
	if _, err := promote.CheckVSA(ctx, dst, desc, promote.VSAPolicy{Keys: []*attest.Key{promoter.Key()}, MaxAge: time.Nanosecond}); err == nil {
		t.Fatal("a VSA accepted beyond its maximum age")
	}

	// Another promoter's key does not accept it.
	other, _ := attest.GenerateKey("")
	if _, err := promote.CheckVSA(ctx, dst, desc, promote.VSAPolicy{Keys: []*attest.Key{other.Key()}}); err == nil {
		t.Fatal("a VSA accepted for a key that did not sign it")
	}

	// A tampered image (the demo's replay) is not promoted: nothing copied.
	evilRef, _ := oci.ParseReference(staging + ":evil")
	evil, err := oci.Resolve(ctx, src, evilRef)
	if err != nil {
		t.Fatal(err)
	}
	res, err = promote.Promote(ctx, src, srcRef.Name(), evil, dst, dstRef.Name(), "evil", opts)
	if !verify.IsNotVerified(err) || res.Report == nil || res.Report.Verified {
		t.Fatalf("tampered promote: %v", err)
	}
	if ok, _ := dst.Exists(ctx, evil); ok {
		t.Fatal("a tampered image was copied")
	}
	if _, err := promote.CheckVSA(ctx, dst, evil, promote.VSAPolicy{Keys: []*attest.Key{promoter.Key()}}); err == nil {
		t.Fatal("a VSA for the tampered image")
	}
}
