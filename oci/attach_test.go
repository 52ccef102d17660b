package oci_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

func TestAttachDiscoverPull(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds {
		for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
			t.Run(kind+"/"+form.String(), func(t *testing.T) {
				s := open(t, newStore(t, kind))
				image := pushImage(t, s, "app "+kind+form.String())
				sc := newSupplyChain(t, form)
				var digests []string
				for _, f := range [][]byte{sc.layout, sc.links["build"], sc.links["test"]} {
					a, err := oci.Attach(ctx, s, image, f, oci.AttachOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if a.Existed {
						t.Fatal("first attach reported as existing")
					}
					digests = append(digests, a.Manifest.Digest.String())
				}
				// Attaching again pushes nothing new.
				again, err := oci.Attach(ctx, s, image, sc.links["build"], oci.AttachOptions{})
				if err != nil || !again.Existed || again.Manifest.Digest.String() != digests[1] {
					t.Fatalf("second attach: %+v %v", again, err)
				}
				list, err := oci.ListReferrers(ctx, s, image, "", 0)
				if err != nil || len(list) != 3 {
					t.Fatalf("referrers %v %v", list, err)
				}

				graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, n := range graph.Referrers {
					got = append(got, n.Digest)
					if n.Problem != "" || !oci.IsRefereeType(n.ArtifactType) || n.Annotations[oci.AnnotationKind] == "" {
						t.Errorf("node %+v", n)
					}
				}
				sort.Strings(got)
				sort.Strings(digests)
				if len(got) != 3 || got[0] != digests[0] || got[2] != digests[2] {
					t.Fatalf("discover %v, attached %v", got, digests)
				}
				linkOnly, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{ArtifactType: oci.ArtifactType("link", form)})
				if err != nil || len(linkOnly.Referrers) != 2 {
					t.Fatalf("filtered discover: %v %v", linkOnly, err)
				}

				b, err := oci.Gather(ctx, s, graph, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				res, err := oci.WriteBundle(b, dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Files) != 3 || len(res.Skipped) != 0 {
					t.Fatalf("pull wrote %+v", res)
				}
				// What came from the store verifies as the files did.
				env, err := attest.ReadEnvelopeFile(filepath.Join(dir, "root.layout"), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				links, err := verify.LoadLinkDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := verify.Verify(ctx, verify.Evidence{Source: "root.layout", Envelope: env}, links, verify.Options{LayoutKeys: []*attest.Key{sc.owner.Key()}}); err != nil {
					t.Fatal(err)
				}
				raw, _ := os.ReadFile(filepath.Join(dir, "root.layout"))
				if string(raw) != string(sc.layout) {
					t.Fatal("pulled layout differs from the attached file")
				}
			})
		}
	}
}

func TestAttachRefusesWhatIsNotEvidence(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, s, "x")
	owner, _ := attest.GenerateKey("")
	unsigned := must(attest.NewEnvelope(attest.FormDSSE, must((&attest.Link{Name: "s"}).Marshal())).Marshal())
	statement := sign(t, attest.FormDSSE, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`), owner)
	for name, f := range map[string][]byte{"truncated": []byte(`{"payload":`), "unsigned": unsigned, "statement": statement, "not json": []byte("hello")} {
		if _, err := oci.Attach(ctx, s, image, f, oci.AttachOptions{}); err == nil {
			t.Errorf("%s: attached", name)
		}
	}
	if list, _ := oci.ListReferrers(ctx, s, image, "", 0); len(list) != 0 {
		t.Fatalf("refused attaches left referrers: %v", list)
	}
}
