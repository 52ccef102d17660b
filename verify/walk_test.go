package verify_test

// ImageWalk says which referrers verification used: exactly the layout,
// the links counted, the sublayouts counted and their links counted —
// what promote copies. Everything else attached beside them (older
// layouts, unauthorised and stale links, links of made-up steps, other
// tools' referrers, referrers below a link) is not in Used, whatever the
// engine's report keeps of a step's sublayouts.

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// wkSetup attaches evidence to image and returns the referrers that
// verification must have used, and options for ImageWalk.
type wkSetup func(t *testing.T, c *tmChain, s oci.Store, image ocispec.Descriptor) (want []ocispec.Descriptor, o verify.ImageOptions)

// wkAt is an attach option with a creation time: the newest documents
// come first among a step's candidates.
func wkAt(minutes int, step string) oci.AttachOptions {
	return oci.AttachOptions{Step: step, Created: time.Now().Add(time.Duration(minutes) * time.Minute)}
}

// wkSublayout attaches who's sublayout for the build step (one step,
// compile, by carol, producing app.tar from tar; created minutes from now,
// which also sets it apart by its expiry) to image and, unless bare,
// carol's link of it below it; it returns both referrers.
func (c *tmChain) wkSublayout(t *testing.T, s oci.Store, image ocispec.Descriptor, who, tar string, minutes int, bare bool) (sub, link ocispec.Descriptor) {
	l := attest.Layout{Expires: time.Now().Add(time.Hour + time.Duration(minutes)*time.Minute).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{c.keyID("carol"): c.keys["carol"].Key()}}
	l.Steps = []attest.Step{{Name: "compile", Threshold: 1, PubKeys: []string{c.keyID("carol")}, ExpectedProducts: rules(t, "CREATE app.tar", "DISALLOW *")}}
	sub = tmAttach(t, s, image, c.signLayout(l, 0, c.keys[who]), wkAt(minutes, "build"))
	if !bare {
		link = tmAttach(t, s, sub, c.link("compile", "carol", nil, map[string]attest.HashObj{"app.tar": sha(tar)}), oci.AttachOptions{})
	}
	return sub, link
}

func TestImageWalkUsed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup wkSetup
		// check looks further at the report.
		check func(t *testing.T, r *verify.Report)
	}{
		{"only the used among junk", func(t *testing.T, c *tmChain, s oci.Store, image ocispec.Descriptor) ([]ocispec.Descriptor, verify.ImageOptions) {
			current := tmAttach(t, s, image, c.signLayout(c.layout(), 2), oci.AttachOptions{})
			tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{}) // older: not used
			build := tmAttach(t, s, image, c.buildLink("bob", "tar"), wkAt(0, ""))
			push := tmAttach(t, s, image, c.pushLink("alice", "tar", image), wkAt(0, ""))
			tmAttach(t, s, image, c.pushLink("alice", "stale tar", image, "push", "--stale"), wkAt(10, "")) // a newer stale re-run
			tmAttach(t, s, image, c.pushLink("mallory", "tar", image), oci.AttachOptions{})                 // unauthorised
			tmAttach(t, s, image, c.link("deploy", "mallory", nil, nil), oci.AttachOptions{})               // no such step
			tmAttach(t, s, push, c.buildLink("bob", "tar", "below", "a", "link"), oci.AttachOptions{})      // below a link: never listed
			tmAttachRaw(t, s, image, "application/spdx+json", "application/spdx+json", []byte(`{"spdxVersion":"SPDX-2.3"}`), nil)
			return []ocispec.Descriptor{current, build, push}, verify.ImageOptions{}
		}, func(t *testing.T, r *verify.Report) {
			if len(stepOf(t, r, "push").Rejected) != 2 {
				t.Errorf("push: want the stale and the unauthorised link rejected:\n%s", reportText(r))
			}
		}},
		{"a sublayout and its counted link", func(t *testing.T, c *tmChain, s oci.Store, image ocispec.Descriptor) ([]ocispec.Descriptor, verify.ImageOptions) {
			layout := tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
			sub, link := c.wkSublayout(t, s, image, "bob", "tar", 0, false)
			tmAttach(t, s, sub, c.link("compile", "mallory", nil, map[string]attest.HashObj{"app.tar": sha("tar")}), oci.AttachOptions{}) // unauthorised in the sublayout
			tmAttach(t, s, link, c.buildLink("bob", "tar"), oci.AttachOptions{})                                                          // below the sublayout's link
			push := tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})
			return []ocispec.Descriptor{layout, sub, link, push}, verify.ImageOptions{}
		}, nil},
		{"the engine keeps a newer sublayout that failed", func(t *testing.T, c *tmChain, s oci.Store, image ocispec.Descriptor) ([]ocispec.Descriptor, verify.ImageOptions) {
			layout := tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
			c.wkSublayout(t, s, image, "bob", "newer tar", 10, true) // newest, without its link: does not verify
			sub, link := c.wkSublayout(t, s, image, "bob", "tar", 0, false)
			push := tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})
			return []ocispec.Descriptor{layout, sub, link, push}, verify.ImageOptions{}
		}, func(t *testing.T, r *verify.Report) {
			b := stepOf(t, r, "build")
			if b.Sublayout == nil || b.Sublayout.Verified || len(b.Used) != 1 || b.Used[0].Source == b.Sublayout.Layout.Source {
				t.Fatalf("want the report to keep the failed sublayout and use the other:\n%s", reportText(r))
			}
		}},
		{"two sublayouts toward a threshold of 2", func(t *testing.T, c *tmChain, s oci.Store, image ocispec.Descriptor) ([]ocispec.Descriptor, verify.ImageOptions) {
			l := c.layout("bob", "carol")
			l.Steps[0].Threshold = 2
			layout := tmAttach(t, s, image, c.signLayout(l, 1), oci.AttachOptions{})
			sub1, link1 := c.wkSublayout(t, s, image, "bob", "tar", 0, false)
			sub2, link2 := c.wkSublayout(t, s, image, "carol", "tar", 1, false)
			push := tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})
			return []ocispec.Descriptor{layout, sub1, link1, sub2, link2, push}, verify.ImageOptions{}
		}, func(t *testing.T, r *verify.Report) {
			if len(stepOf(t, r, "build").Used) != 2 {
				t.Fatalf("want both sublayouts used:\n%s", reportText(r))
			}
		}},
		{"a pinned layout: the attached referrer holding it", func(t *testing.T, c *tmChain, s oci.Store, image ocispec.Descriptor) ([]ocispec.Descriptor, verify.ImageOptions) {
			data := c.signLayout(c.layout(), 1)
			layout := tmAttach(t, s, image, data, oci.AttachOptions{})
			tmAttach(t, s, image, c.signLayout(c.layout(), 2), oci.AttachOptions{}) // current, but not the one pinned
			build := tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
			push := tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})
			env, err := attest.ParseEnvelope(data)
			if err != nil {
				t.Fatal(err)
			}
			return []ocispec.Descriptor{layout, build, push}, verify.ImageOptions{Layout: &layoutref.Candidate{Source: "pinned.layout", Envelope: env}}
		}, nil},
		{"a pinned layout not attached", func(t *testing.T, c *tmChain, s oci.Store, image ocispec.Descriptor) ([]ocispec.Descriptor, verify.ImageOptions) {
			tmAttach(t, s, image, c.signLayout(c.layout(), 2), oci.AttachOptions{})
			build := tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
			push := tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{})
			env, err := attest.ParseEnvelope(c.signLayout(c.layout(), 1))
			if err != nil {
				t.Fatal(err)
			}
			return []ocispec.Descriptor{build, push}, verify.ImageOptions{Layout: &layoutref.Candidate{Source: "pinned.layout", Envelope: env}}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTMChain(t)
			s := tmOpen(t, tmRegistry(t, true)+"/app")
			image := tmPushImage(t, s, "tar")
			want, o := tc.setup(t, c, s, image)
			o.LayoutKeys = []*attest.Key{c.owner.Key()}
			w, err := verify.ImageWalk(context.Background(), s, image, o)
			if err != nil || w == nil || !w.Report.Verified {
				t.Fatalf("ImageWalk: %v\n%s", err, reportText(w.Report))
			}
			var wantD []string
			for _, d := range want {
				wantD = append(wantD, d.Digest.String())
			}
			sort.Strings(wantD)
			if got := wkKeys(w.Used); strings.Join(got, " ") != strings.Join(wantD, " ") {
				t.Errorf("used\n  %v\nwant\n  %v\n%s", got, wantD, reportText(w.Report))
			}
			// The graph is the one verification walked: nothing below a
			// link was listed.
			var below func(n *oci.Node) bool
			below = func(n *oci.Node) bool {
				for _, r := range n.Referrers {
					if len(r.Referrers) > 0 && r.Annotations[oci.AnnotationStep] == "" || below(r) {
						return true
					}
				}
				return false
			}
			if below(w.Graph) {
				t.Error("the graph holds referrers of something other than a sublayout")
			}
			if tc.check != nil {
				tc.check(t, w.Report)
			}
		})
	}
}

// A verification that fails uses nothing.
func TestImageWalkFailedUsesNothing(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	w, err := verify.ImageWalk(context.Background(), s, image, verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}}})
	if !verify.IsNotVerified(err) || w == nil || w.Report == nil || w.Used != nil || w.Graph == nil {
		t.Fatalf("ImageWalk of an image without a push link: %v %+v", err, w)
	}
}

func wkKeys(m map[string]bool) []string {
	var out []string
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
