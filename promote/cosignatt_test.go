package promote_test

// Promote carries cosign's legacy attestations that verification counted
// (layers of the image's sha256-<hex>.att tag, which is no referrer) to
// the destination's tag of the same name, so that the copy verifies there
// by the layout again; what verification did not count stays behind. The
// attestations are cosign v2.6.5's own (oci/testdata/cosign).

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// vulnURI is the predicate type of the sample attestation the layout's
// inspection checks; the samples' others are SLSA provenance and
// cosign's custom type.
const vulnURI = "https://example.com/vuln/v1"

func cosignSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "oci", "testdata", "cosign", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pushSample(t *testing.T, s oci.Store, mediaType string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := content.NewDescriptorFromBytes(mediaType, data)
	if ok, _ := s.Exists(context.Background(), d); !ok {
		if err := s.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// sampleLayers are the sample .att manifest's layers (slsa, custom,
// vuln-uri), with their annotations.
func sampleLayers(t *testing.T) (slsa, custom, vuln ocispec.Descriptor) {
	t.Helper()
	var m ocispec.Manifest
	if err := json.Unmarshal(cosignSample(t, "att.manifest.json"), &m); err != nil {
		t.Fatal(err)
	}
	return m.Layers[0], m.Layers[1], m.Layers[2]
}

// pushAtt pushes an .att manifest of image holding layers (of the samples
// named), as cosign writes one, and tags it.
func pushAtt(t *testing.T, s oci.Store, image ocispec.Descriptor, files []string, layers []ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	for _, f := range files {
		pushSample(t, s, oci.MediaTypeDSSE, cosignSample(t, f))
	}
	var ids []string
	for _, l := range layers {
		ids = append(ids, l.Digest.String())
	}
	config, _ := json.Marshal(map[string]any{"rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: pushSample(t, s, ocispec.MediaTypeImageConfig, config), Layers: layers})
	d := pushSample(t, s, ocispec.MediaTypeImageManifest, m)
	if err := s.Tag(context.Background(), d, oci.CosignAttestationTag(image.Digest.String())); err != nil {
		t.Fatal(err)
	}
	return d
}

// cosignSetup pushes the image the samples attest (image-v1) into src
// with the samples' .att tag (three layers), the push step's link by
// alice and the owner's layout, whose inspection, when check is set, is a
// native check of the vuln-uri attestation signed by cosign's key.
func cosignSetup(t *testing.T, c *peChain, src oci.Store, check bool) ocispec.Descriptor {
	t.Helper()
	pushSample(t, src, ocispec.MediaTypeImageConfig, cosignSample(t, "image-v1.config.json"))
	pushSample(t, src, ocispec.MediaTypeImageLayerGzip, cosignSample(t, "image-v1.layer.tar.gz"))
	image := pushSample(t, src, ocispec.MediaTypeImageManifest, cosignSample(t, "image-v1.manifest.json"))
	pushSample(t, src, ocispec.MediaTypeImageConfig, cosignSample(t, "att.config.json"))
	for _, f := range []string{"att-layer.slsa.json", "att-layer.custom.json", "att-layer.vuln-uri.json"} {
		pushSample(t, src, oci.MediaTypeDSSE, cosignSample(t, f))
	}
	att := pushSample(t, src, ocispec.MediaTypeImageManifest, cosignSample(t, "att.manifest.json"))
	if err := src.Tag(context.Background(), att, oci.CosignAttestationTag(image.Digest.String())); err != nil {
		t.Fatal(err)
	}

	scanner, err := attest.ParsePublicKey(cosignSample(t, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat),
		Keys: map[string]*attest.Key{c.id("alice"): c.keys["alice"].Key(), scanner.KeyID: scanner}}
	l.Steps = []attest.Step{{Name: "push", Threshold: 1, PubKeys: []string{c.id("alice")},
		ExpectedProducts: c.rules("CREATE "+attest.ImageArtifact, "DISALLOW *")}}
	if check {
		l.Inspect = []attest.Inspection{{Name: "no-critical-vulns",
			Run: []string{"referee", "check", "--attestation", vulnURI, "--signed-by", scanner.KeyID, "--cel", `size(input.results) == 2`}}}
	}
	payload, err := l.Marshal()
	peAttach(t, src, image, c.sign(payload, err, "owner"), oci.AttachOptions{})
	peAttach(t, src, image, c.link("push", "alice", nil, map[string]attest.HashObj{attest.ImageArtifact: {"sha256": image.Digest.Encoded()}}), oci.AttachOptions{})
	return image
}

// dstAtt reads dst's .att tag of image: its layers' digests, or nil when
// there is none.
func dstAtt(t *testing.T, s oci.Store, image ocispec.Descriptor) []string {
	t.Helper()
	ctx := context.Background()
	d, err := s.Resolve(ctx, oci.CosignAttestationTag(image.Digest.String()))
	if err != nil {
		return nil
	}
	m, err := oci.FetchManifest(ctx, s, d, oci.DefaultMaxManifestBytes)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

// countedCosign reports whether r's native check counted a cosign legacy
// attestation.
func countedCosign(r *verify.Report) bool {
	for _, in := range r.Inspections {
		for _, c := range in.Checks {
			if c.Passed && strings.HasSuffix(c.Attestation, "("+oci.AttestationFormCosign+")") {
				return true
			}
		}
	}
	return false
}

func TestPromoteCosignAttestations(t *testing.T) {
	ctx := context.Background()
	c := newPEChain(t)
	src := testenv.Open(t, testenv.Registry(t, true)+"/app")
	image := cosignSetup(t, c, src, true)
	slsa, custom, vuln := sampleLayers(t)
	opts := c.options()
	opts.Verify.MaxBlobBytes = 0

	t.Run("copied when counted", func(t *testing.T) {
		reg := newPERegistry(t, false)
		dst := testenv.Open(t, reg.front+"/prod")
		if _, err := verify.Image(ctx, dst, image, opts.Verify); err == nil {
			t.Fatal("verified before promotion")
		}

		dry := opts
		dry.DryRun = true
		res, err := promote.Promote(ctx, src, "src/app", image, dst, "prod", "", dry)
		if err != nil || res.Cosign == nil || !slices.Equal(peSorted(res.Cosign.Missing...), []string{vuln.Digest.String()}) {
			t.Fatalf("dry run: %v %+v", err, res.Cosign)
		}
		if _, w := reg.counts(); w != 0 || dstAtt(t, dst, image) != nil {
			t.Fatalf("the dry run wrote %d times", w)
		}

		res, err = promote.Promote(ctx, src, "src/app", image, dst, "prod", "", opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := dstAtt(t, dst, image); !slices.Equal(got, []string{vuln.Digest.String()}) {
			t.Fatalf("dst's .att tag holds %v, want only the counted %s", got, vuln.Digest)
		}
		if res.Cosign.Manifest.Digest == "" {
			t.Errorf("no manifest reported: %+v", res.Cosign)
		}
		for _, l := range []ocispec.Descriptor{slsa, custom} {
			if ok, _ := dst.Exists(ctx, l); ok {
				t.Errorf("layer %s, not counted, was copied", l.Digest)
			}
		}
		if data, err := oci.FetchBlob(ctx, dst, vuln, oci.DefaultMaxBlobBytes); err != nil || !bytes.Equal(data, cosignSample(t, "att-layer.vuln-uri.json")) {
			t.Errorf("the layer at dst is not cosign's bytes: %v", err)
		}
		r, err := verify.Image(ctx, dst, image, opts.Verify)
		if err != nil || !countedCosign(r) {
			t.Fatalf("the promoted copy does not verify by the layout with cosign's attestation: %v", err)
		}

		// Again: nothing written.
		_, before := reg.counts()
		again, err := promote.Promote(ctx, src, "src/app", image, dst, "prod", "", opts)
		if err != nil || len(again.Cosign.Missing) != 0 || again.Cosign.Manifest.Digest != res.Cosign.Manifest.Digest || !again.VSAExisted {
			t.Fatalf("second promote: %v %+v", err, again.Cosign)
		}
		if _, after := reg.counts(); after != before {
			t.Errorf("the second promote wrote %d times", after-before)
		}
	})

	t.Run("merged with dst's tag", func(t *testing.T) {
		reg := newPERegistry(t, true)
		dst := testenv.Open(t, reg.front+"/prod")
		// Another's attestation is there already, in dst's own tag.
		pushAtt(t, dst, image, []string{"att-layer.slsa.json"}, []ocispec.Descriptor{slsa})
		if _, err := promote.Promote(ctx, src, "src/app", image, dst, "prod", "", opts); err != nil {
			t.Fatal(err)
		}
		if got, want := dstAtt(t, dst, image), []string{slsa.Digest.String(), vuln.Digest.String()}; !slices.Equal(got, want) {
			t.Fatalf("dst's .att tag holds %v, want %v", got, want)
		}
		if r, err := verify.Image(ctx, dst, image, opts.Verify); err != nil || !countedCosign(r) {
			t.Fatalf("the promoted copy does not verify by the layout: %v", err)
		}
	})

	t.Run("refused before anything is copied", func(t *testing.T) {
		reg := newPERegistry(t, true)
		dst := testenv.Open(t, reg.front+"/prod")
		// dst's tag is not something promote would rewrite.
		idx := pushSample(t, dst, ocispec.MediaTypeImageIndex, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
		if err := dst.Tag(ctx, idx, oci.CosignAttestationTag(image.Digest.String())); err != nil {
			t.Fatal(err)
		}
		_, before := reg.counts()
		_, err := promote.Promote(ctx, src, "src/app", image, dst, "prod", "", opts)
		if err == nil || !strings.Contains(err.Error(), "not replacing it") {
			t.Fatalf("got %v", err)
		}
		if _, after := reg.counts(); after != before {
			t.Errorf("a refused promote wrote %d times", after-before)
		}
	})
}

// TestPromoteCosignNotCounted: a layout that checks no attestation counts
// none, and promote leaves cosign's tag behind.
func TestPromoteCosignNotCounted(t *testing.T) {
	ctx := context.Background()
	c := newPEChain(t)
	src := testenv.Open(t, testenv.Registry(t, true)+"/app")
	image := cosignSetup(t, c, src, false)
	dst := testenv.Open(t, testenv.Registry(t, true)+"/prod")
	opts := c.options()
	opts.Verify.MaxBlobBytes = 0
	res, err := promote.Promote(ctx, src, "src/app", image, dst, "prod", "", opts)
	if err != nil || res.Cosign != nil {
		t.Fatalf("%v %+v", err, res.Cosign)
	}
	if got := dstAtt(t, dst, image); got != nil {
		t.Errorf("dst has an .att tag of %v", got)
	}
	if _, err := verify.Image(ctx, dst, image, opts.Verify); err != nil {
		t.Fatal(err)
	}
}
