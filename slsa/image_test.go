package slsa_test

import (
	"context"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/slsa"
	"github.com/referee-dev/referee/verify"
)

// attach attaches the envelopes to subject as referrers.
func attach(t *testing.T, s oci.Store, subject ocispec.Descriptor, envs ...*attest.Envelope) {
	t.Helper()
	for _, env := range envs {
		data, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oci.Attach(context.Background(), s, subject, data, oci.AttachOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImage computes the level from a registry: the layout is read back
// from the referrer verification used, or taken as given.
func TestImage(t *testing.T) {
	ctx := context.Background()
	c := newChain(t)
	for _, api := range []bool{true, false} {
		s := testenv.Open(t, testenv.Registry(t, api)+"/app")
		desc := testenv.PushImage(t, s, "app")
		_, env := c.layout(1, "slsa: {build: build, hosted: [ci, runner], hardened: [ci]}\n", "referee-layout-version: 2")
		// An older layout of the owner's, declaring no build, is attached
		// too: the level is the one of the layout verification chose.
		_, old := c.layout(1, "", "referee-layout-version: 1")
		attach(t, s, desc, old, env)
		for _, l := range c.links(desc.Digest.Encoded(), "ci", "runner") {
			attach(t, s, desc, l.Envelope)
		}
		o := verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.keys["owner"].Key()}}}
		w, res, err := slsa.Image(ctx, s, desc, o)
		if err != nil || !w.Report.Verified {
			t.Fatalf("referrers API %v: %v", api, err)
		}
		if res.Level != slsa.BuildLevel2 || res.Image != desc.Digest.String() || res.Build != "build" {
			t.Fatalf("referrers API %v: %+v", api, res)
		}
		if !strings.Contains(res.Requirements[1].Reason, "build.") || !strings.Contains(res.Requirements[2].Reason, "declared hardened") {
			t.Errorf("reasons %+v", res.Requirements)
		}

		// The layout given (--layout): the same level.
		given := o
		given.Layout = &layoutref.Candidate{Source: "root.layout", Envelope: env}
		if _, res, err := slsa.Image(ctx, s, desc, given); err != nil || res.Level != slsa.BuildLevel2 {
			t.Fatalf("given layout: %v %+v", err, res)
		}

		// Another layout key: not verified, L0, and the error says so.
		wrong := o
		wrong.LayoutKeys = []*attest.Key{c.keys["mallory"].Key()}
		_, res, err = slsa.Image(ctx, s, desc, wrong)
		if !verify.IsNotVerified(err) || res.Level != 0 || !strings.Contains(res.Requirements[0].Reason, "not verified") {
			t.Fatalf("wrong layout key: %v %+v", err, res)
		}
	}
}

// TestImageMalformedDeclaration: a layout that verifies but whose
// declaration does not parse is refused as not verified.
func TestImageMalformedDeclaration(t *testing.T) {
	ctx := context.Background()
	c := newChain(t)
	s := testenv.Open(t, testenv.Registry(t, true)+"/app")
	desc := testenv.PushImage(t, s, "app")
	_, env := c.layout(1, "", "referee-slsa: build=build hosted="+c.id("ci")+",")
	attach(t, s, desc, env)
	for _, l := range c.links(desc.Digest.Encoded(), "ci", "ci") {
		attach(t, s, desc, l.Envelope)
	}
	o := verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.keys["owner"].Key()}}}
	w, res, err := slsa.Image(ctx, s, desc, o)
	if !verify.IsNotVerified(err) || !w.Report.Verified || res.Level != 0 || !strings.Contains(res.Invalid, "hosted has an empty keyid") {
		t.Fatalf("%v %+v", err, res)
	}
	if !strings.Contains(err.Error(), "invalid layout: readme line") {
		t.Errorf("error %q", err)
	}
}

func TestVerifiedLayoutRefusesAnother(t *testing.T) {
	ctx := context.Background()
	c := newChain(t)
	s := testenv.Open(t, testenv.Registry(t, true)+"/app")
	desc := testenv.PushImage(t, s, "app")
	_, env := c.layout(1, "slsa: {build: build}\n")
	attach(t, s, desc, env)
	for _, l := range c.links(desc.Digest.Encoded(), "ci", "ci") {
		attach(t, s, desc, l.Envelope)
	}
	o := verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.keys["owner"].Key()}}}
	w, err := verify.ImageWalk(ctx, s, desc, o)
	if err != nil {
		t.Fatal(err)
	}
	// A layout other than the one verified is not taken for it.
	_, other := c.layout(1, "slsa: {build: build, hosted: [dev]}\n")
	o.Layout = &layoutref.Candidate{Source: "other.layout", Envelope: other}
	if _, err := slsa.VerifiedLayout(w, o); err == nil || !strings.Contains(err.Error(), "is not the layout verified") {
		t.Fatalf("another layout: %v", err)
	}
	// Nor is anything when nothing verified.
	if _, err := slsa.VerifiedLayout(&verify.Walked{Report: &verify.Report{}}, o); err == nil {
		t.Fatal("a layout for an unverified walk")
	}
}
