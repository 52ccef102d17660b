package oci_test

import (
	"context"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// orasAttach attaches files as `oras attach --artifact-type T IMAGE FILE...`
// does: an OCI 1.1 manifest with the empty config, artifactType T, one
// layer per file (media type layerType, or oras's default for files)
// titled with the file name, and no annotations of referee's.
func orasAttach(t testing.TB, s oci.Store, subject ocispec.Descriptor, artifactType, layerType string, files ...[2]string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	if layerType == "" {
		layerType = ocispec.MediaTypeImageLayer // oras's default for a file
	}
	var layers []ocispec.Descriptor
	for _, f := range files {
		d := content.NewDescriptorFromBytes(layerType, []byte(f[1]))
		d.Annotations = map[string]string{ocispec.AnnotationTitle: f[0]}
		if ok, err := s.Exists(ctx, d); err != nil {
			t.Fatal(err)
		} else if !ok {
			if err := s.Push(ctx, d, strings.NewReader(f[1])); err != nil {
				t.Fatal(err)
			}
		}
		layers = append(layers, d)
	}
	desc, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{Subject: &subject, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// TestDiscoverDescribesOtherToolsInTotoByContent: a referrer attached by
// oras attach (or a cosign-like tool) without referee's annotations is
// described by the signed in-toto document its one layer holds — kind,
// step, keyids, a layout's expiry — marked as read from content; anything
// else is left undescribed.
func TestDiscoverDescribesOtherToolsInTotoByContent(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, newStore(t, kind))
			image := pushImage(t, s, "app")
			sc := newSupplyChain(t, attest.FormDSSE)
			mb := newSupplyChain(t, attest.FormMetablock)
			owner := sc.owner.Key().KeyID
			linkEnv, err := attest.ParseEnvelope(mb.links["build"])
			if err != nil {
				t.Fatal(err)
			}
			functionary := linkEnv.SignerKeyIDs()[0]
			layoutPayload, _ := attest.ParseEnvelope(sc.layout)
			l, err := attest.ParseLayout(layoutPayload.Payload)
			if err != nil {
				t.Fatal(err)
			}
			statement := sign(t, attest.FormDSSE, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`), sc.owner)

			type want struct {
				content *oci.ContentSummary
				tree    string
			}
			cases := map[string]want{}
			add := func(d ocispec.Descriptor, w want) { cases[d.Digest.String()] = w }
			add(orasAttach(t, s, image, "application/vnd.in-toto+json", "", [2]string{"root.layout", string(sc.layout)}),
				want{&oci.ContentSummary{Kind: "layout", KeyIDs: []string{owner}, Expires: l.Expires}, "(layout, keys " + owner[:8] + ", expires " + l.Expires + ", read from content)"})
			add(orasAttach(t, s, image, "application/vnd.in-toto+json", "", [2]string{"build." + functionary[:8] + ".link", string(mb.links["build"])}),
				want{&oci.ContentSummary{Kind: "link", Step: "build", KeyIDs: []string{functionary}}, "(link, step build, keys " + functionary[:8] + ", read from content)"})
			// cosign-like: a DSSE layer, an artifact type of its own, no title.
			add(orasAttach(t, s, image, "application/vnd.example.attestation", oci.MediaTypeDSSE, [2]string{"", string(sc.links["test"])}),
				want{&oci.ContentSummary{Kind: "link", Step: "test", KeyIDs: []string{functionary0(t, sc.links["test"])}}, "(link, step test, keys " + functionary0(t, sc.links["test"])[:8] + ", read from content)"})
			// Not described: a Statement, not a layout or link; something
			// that is not in-toto; two layers.
			add(orasAttach(t, s, image, "application/vnd.in-toto+json", oci.MediaTypeDSSE, [2]string{"statement.json", string(statement)}), want{})
			add(orasAttach(t, s, image, "application/spdx+json", "application/spdx+json", [2]string{"sbom.spdx.json", string(sc.layout)}), want{})
			add(orasAttach(t, s, image, "application/vnd.in-toto+json", "", [2]string{"root.layout", string(sc.layout)}, [2]string{"build.link", string(mb.links["build"])}), want{})
			// referee's own referrer is described by its annotations.
			att, err := oci.Attach(ctx, s, image, sc.links["build"], oci.AttachOptions{})
			if err != nil {
				t.Fatal(err)
			}
			add(att.Manifest, want{nil, "(link, step build, keys " + functionary0(t, sc.links["build"])[:8] + ")"})

			graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var tree strings.Builder
			if err := graph.WriteTree(&tree, "app"); err != nil {
				t.Fatal(err)
			}
			if len(graph.Referrers) != len(cases) {
				t.Fatalf("%d referrers, want %d:\n%s", len(graph.Referrers), len(cases), tree.String())
			}
			for _, n := range graph.Referrers {
				w := cases[n.Digest]
				if !sameSummary(n.FromContent, w.content) {
					t.Errorf("%s (%s): described as %+v, want %+v", n.Digest, n.ArtifactType, n.FromContent, w.content)
				}
				line := lineOf(tree.String(), n.Digest)
				if w.tree != "" && !strings.HasSuffix(line, "  "+w.tree) {
					t.Errorf("tree line %q, want it to end with %q", line, w.tree)
				}
				if w.tree == "" && strings.Contains(line, "(") {
					t.Errorf("tree line %q describes what it cannot", line)
				}
			}

			// Within the blob limit only.
			graph, err = oci.Discover(ctx, s, image, oci.DiscoverOptions{MaxBlobBytes: 16})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range graph.Referrers {
				if n.FromContent != nil {
					t.Errorf("%s: described from a layer over the limit: %+v", n.Digest, n.FromContent)
				}
			}
		})
	}
}

// TestDiscoverReadsOnlyLayersThatMayBeInToto: the layers of other tools'
// referrers that cannot hold in-toto evidence (an SBOM) are never fetched,
// nor are those of referee's own referrers.
func TestDiscoverReadsOnlyLayersThatMayBeInToto(t *testing.T) {
	b := newBackend(t, true)
	s := open(t, b.host+"/app")
	image := pushImage(t, s, "app")
	sc := newSupplyChain(t, attest.FormDSSE)
	sbom := orasAttach(t, s, image, "application/spdx+json", "application/spdx+json", [2]string{"sbom.spdx.json", `{"spdxVersion":"SPDX-2.3"}`})
	att, err := oci.Attach(context.Background(), s, image, sc.links["build"], oci.AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.records(true)
	if _, err := oci.Discover(context.Background(), s, image, oci.DiscoverOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range b.records(false) {
		if strings.Contains(r.Path, "/blobs/") {
			t.Errorf("discover fetched a blob: %s %s (sbom referrer %s, referee's %s)", r.Method, r.Path, sbom.Digest, att.Manifest.Digest)
		}
	}
}

func functionary0(t testing.TB, file []byte) string {
	t.Helper()
	env, err := attest.ParseEnvelope(file)
	if err != nil {
		t.Fatal(err)
	}
	return env.SignerKeyIDs()[0]
}

func sameSummary(a, b *oci.ContentSummary) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && a.Step == b.Step && a.Expires == b.Expires && strings.Join(a.KeyIDs, ",") == strings.Join(b.KeyIDs, ",")
}

func lineOf(text, digest string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, digest) {
			return line
		}
	}
	return ""
}
