package oci_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

func ruleTokens(t testing.TB, lines ...string) [][]string {
	t.Helper()
	out := [][]string{}
	for _, l := range lines {
		r, err := attest.ParseRuleString(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Tokens())
	}
	return out
}

func digests(files map[string]string) map[string]attest.HashObj {
	out := map[string]attest.HashObj{}
	for p, c := range files {
		out[p] = attest.HashObj{"sha256": fmt.Sprintf("%064x", len(c)*7919+int(c[0]))}
	}
	return out
}

func signedLink(t testing.TB, step string, s *attest.Signer, materials, products map[string]string) []byte {
	t.Helper()
	l := &attest.Link{Name: step, Materials: digests(materials), Products: digests(products), Command: []string{"true"}}
	return sign(t, attest.FormDSSE, must(l.Marshal()), s)
}

// TestSublayout stores a layout whose step "build" bob delegates to a
// sublayout (signed by bob, steps performed by carol): the sublayout is
// attached to the image as the evidence of "build", and its links to the
// sublayout's manifest. Discover shows the nesting, Gather puts the links
// in the sublayout's Sub, WriteBundle lays the files out as
// in-toto-verify expects, and the pulled directory verifies.
func TestSublayout(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			s := open(t, newStore(t, kind))
			image := pushImage(t, s, "sub "+kind)
			owner, alice, bob, carol := key(t), key(t), key(t), key(t)
			expires := time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat)

			root := attest.Layout{Expires: expires, Keys: map[string]*attest.Key{alice.Key().KeyID: alice.Key(), bob.Key().KeyID: bob.Key()}}
			root.Steps = []attest.Step{
				{Name: "checkout", Threshold: 1, PubKeys: []string{alice.Key().KeyID}, ExpectedProducts: ruleTokens(t, "CREATE src/*", "DISALLOW *")},
				{Name: "build", Threshold: 1, PubKeys: []string{bob.Key().KeyID}, ExpectedMaterials: ruleTokens(t, "MATCH src/* WITH PRODUCTS FROM checkout", "DISALLOW *"), ExpectedProducts: ruleTokens(t, "CREATE app", "DISALLOW *")},
			}
			sub := attest.Layout{Expires: expires, Keys: map[string]*attest.Key{carol.Key().KeyID: carol.Key()}}
			sub.Steps = []attest.Step{
				{Name: "compile", Threshold: 1, PubKeys: []string{carol.Key().KeyID}, ExpectedMaterials: ruleTokens(t, "ALLOW src/*"), ExpectedProducts: ruleTokens(t, "CREATE obj")},
				{Name: "link", Threshold: 1, PubKeys: []string{carol.Key().KeyID}, ExpectedMaterials: ruleTokens(t, "MATCH obj WITH PRODUCTS FROM compile"), ExpectedProducts: ruleTokens(t, "CREATE app")},
			}
			src := map[string]string{"src/main.go": "package main"}
			rootFile := sign(t, attest.FormDSSE, must(root.Marshal()), owner)
			subFile := sign(t, attest.FormDSSE, must(sub.Marshal()), bob)

			var top []string
			for _, f := range [][]byte{rootFile, signedLink(t, "checkout", alice, nil, src)} {
				a, err := oci.Attach(ctx, s, image, f, oci.AttachOptions{})
				if err != nil {
					t.Fatal(err)
				}
				top = append(top, a.Manifest.Digest.String())
			}
			sl, err := oci.Attach(ctx, s, image, subFile, oci.AttachOptions{Step: "build"})
			if err != nil {
				t.Fatal(err)
			}
			top = append(top, sl.Manifest.Digest.String())
			var nested []string
			for _, f := range [][]byte{
				signedLink(t, "compile", carol, src, map[string]string{"obj": "o"}),
				signedLink(t, "link", carol, map[string]string{"obj": "o"}, map[string]string{"app": "b"}),
			} {
				a, err := oci.Attach(ctx, s, sl.Manifest, f, oci.AttachOptions{})
				if err != nil {
					t.Fatal(err)
				}
				nested = append(nested, a.Manifest.Digest.String())
			}

			// Discover shows the nesting.
			graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, d := range top {
				want = append(want, image.Digest.String()+">"+d)
			}
			for _, d := range nested {
				want = append(want, sl.Manifest.Digest.String()+">"+d)
			}
			sort.Strings(want)
			if got := graphDigests(graph); !sameStrings(got, want) {
				t.Fatalf("graph %v, want %v", got, want)
			}
			subNode := findNodes(graph, sl.Manifest.Digest.String())[0]
			if subNode.Annotations[oci.AnnotationStep] != "build" || subNode.Annotations[oci.AnnotationKind] != "layout" {
				t.Fatalf("sublayout node %+v", subNode)
			}

			// Gather: one root layout; the checkout link and the
			// sublayout, which holds its two links.
			b, err := oci.Gather(ctx, s, graph, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Layouts) != 1 || len(b.Links) != 2 || len(b.Skipped) != 0 {
				t.Fatalf("gathered %v %v skipped %v", docReferrers(b.Layouts), docReferrers(b.Links), b.Skipped)
			}
			var sd *oci.Document
			for _, d := range b.Links {
				if d.Kind == "layout" {
					sd = d
				}
			}
			if sd == nil || sd.Step != "build" || len(sd.Sub) != 2 || sd.FileName != attest.LinkFileName("build", bob.Key().KeyID) {
				t.Fatalf("sublayout document %+v", sd)
			}

			dir := t.TempDir()
			res, err := oci.WriteBundle(b, dir)
			if err != nil || len(res.Files) != 5 || len(res.Skipped) != 0 {
				t.Fatalf("pull %+v %v", res, err)
			}
			bob8, carol8 := bob.Key().KeyID[:8], carol.Key().KeyID[:8]
			for _, f := range []string{"root.layout", "checkout." + alice.Key().KeyID[:8] + ".link", "build." + bob8 + ".link",
				"build." + bob8 + "/compile." + carol8 + ".link", "build." + bob8 + "/link." + carol8 + ".link"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}

			env, err := attest.ReadEnvelopeFile(filepath.Join(dir, "root.layout"), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			links, err := verify.LoadLinkDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			r, err := verify.Verify(ctx, verify.Evidence{Source: "root.layout", Envelope: env}, links, verify.Options{LayoutKeys: []*attest.Key{owner.Key()}})
			if err != nil {
				var sb strings.Builder
				if r != nil {
					r.WriteText(&sb)
				}
				t.Fatalf("%v\n%s", err, sb.String())
			}
			if r.Steps[1].Sublayout == nil || !r.Steps[1].Sublayout.Verified {
				t.Fatalf("no verified sublayout in the report: %+v", r.Steps[1])
			}

			// Without the sublayout's links the pulled evidence fails.
			if err := os.RemoveAll(filepath.Join(dir, "build."+bob8)); err != nil {
				t.Fatal(err)
			}
			links, _ = verify.LoadLinkDir(dir)
			if _, err := verify.Verify(ctx, verify.Evidence{Source: "root.layout", Envelope: env}, links, verify.Options{LayoutKeys: []*attest.Key{owner.Key()}}); !verify.IsNotVerified(err) {
				t.Fatalf("verified without the sublayout's links: %v", err)
			}
		})
	}
}

func key(t testing.TB) *attest.Signer {
	t.Helper()
	s, err := attest.GenerateKey(attest.KeyTypeEd25519)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
