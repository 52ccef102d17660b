package verify_test

import (
	"context"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// TestImageVerifiesFromRegistry is the baseline the threat tests depart
// from: the owner's layout and the build and push links attached to the
// image, on a registry with the referrers API and on one with only the tag
// schema, verify from the registry alone; the report names the image, the
// layout's referrer and version, and each step's link by referrer digest.
func TestImageVerifiesFromRegistry(t *testing.T) {
	for _, api := range []bool{true, false} {
		name := map[bool]string{true: "referrers-api", false: "tag-schema"}[api]
		t.Run(name, func(t *testing.T) {
			c := newTMChain(t)
			s := tmOpen(t, tmRegistry(t, api)+"/app")
			image := tmPushImage(t, s, "app.tar contents")
			layout := tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
			build := tmAttach(t, s, image, c.buildLink("bob", "app.tar contents"), oci.AttachOptions{})
			push := tmAttach(t, s, image, c.pushLink("alice", "app.tar contents", image), oci.AttachOptions{})

			r, err := c.verify(s, image, verify.ImageOptions{})
			wantImagePass(t, r, err, image)
			if r.Layout.Version != 1 || !strings.Contains(r.Layout.Source, layout.Digest.String()) || len(r.Layout.NotUsed) != 0 {
				t.Errorf("layout report %+v", r.Layout)
			}
			for step, ref := range map[string]ocispec.Descriptor{"build": build, "push": push} {
				sr := stepOf(t, r, step)
				if !sr.Passed || len(sr.Used) != 1 || !strings.Contains(sr.Used[0].Source, ref.Digest.String()) {
					t.Errorf("step %s: used %s", step, sources(sr.Used))
				}
			}
			if len(r.Warnings) != 0 {
				t.Errorf("warnings %q", r.Warnings)
			}
		})
	}
}

// TestLayoutFromPolicyRepository: --layout names a layout pushed to a
// separate policy repository (oras push style: one layer holding the
// envelope); layoutref.Load reads it through the reference, and the image,
// which carries only links, verifies with it.
func TestLayoutFromPolicyRepository(t *testing.T) {
	ctx := context.Background()
	c := newTMChain(t)
	host := tmRegistry(t, true)
	s := tmOpen(t, host+"/app")
	image := tmPushImage(t, s, "app.tar contents")
	tmAttach(t, s, image, c.buildLink("bob", "app.tar contents"), oci.AttachOptions{})
	tmAttach(t, s, image, c.pushLink("alice", "app.tar contents", image), oci.AttachOptions{})

	policies := tmOpen(t, host+"/policies")
	env := c.signLayout(c.layout(), 2)
	layer, err := oras.PushBytes(ctx, policies, oci.MediaTypeDSSE, env)
	if err != nil {
		t.Fatal(err)
	}
	m, err := oras.PackManifest(ctx, policies, oras.PackManifestVersion1_1, oci.ArtifactTypeLayoutDSSE, oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	if err := policies.Tag(ctx, m, "app-v2"); err != nil {
		t.Fatal(err)
	}

	cand, err := layoutref.Load(ctx, host+"/policies:app-v2", oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := host + "/policies@" + m.Digest.String(); cand.Source != want {
		t.Errorf("layout source %q, want the reference pinned to its digest %q", cand.Source, want)
	}
	r, err := c.verify(s, image, verify.ImageOptions{Layout: &cand})
	wantImagePass(t, r, err, image)
	if r.Layout.Version != 2 || r.Layout.Source != cand.Source {
		t.Errorf("layout report %+v", r.Layout)
	}
}
