package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// cosignLayer is the descriptor the sample .att manifest gives layer k
// (slsa, custom, vuln-uri), with its annotations.
func cosignLayer(t testing.TB, k string) ocispec.Descriptor {
	t.Helper()
	var m ocispec.Manifest
	if err := json.Unmarshal(cosignFile(t, "att.manifest.json"), &m); err != nil {
		t.Fatal(err)
	}
	i := map[string]int{"slsa": 0, "custom": 1, "vuln-uri": 2}[k]
	return m.Layers[i]
}

// cosignAtts reads src's attestations of image and keeps those of the
// given predicate types (what a verification would have counted).
func cosignAtts(t testing.TB, s oci.Store, image ocispec.Descriptor, types ...string) []oci.Attestation {
	t.Helper()
	all, err := oci.FindAttestations(context.Background(), s, image, oci.AttestationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []oci.Attestation
	for _, a := range all {
		var st struct {
			PredicateType string `json:"predicateType"`
		}
		if err := json.Unmarshal(a.Statement, &st); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(types, st.PredicateType) {
			out = append(out, a)
		}
	}
	if len(out) != len(types) {
		t.Fatalf("found %d attestations of %v, want %d", len(out), types, len(types))
	}
	return out
}

// attManifest reads s's .att tag of image: its manifest and config.
func attManifest(t testing.TB, s oci.Store, image ocispec.Descriptor) (ocispec.Descriptor, ocispec.Manifest, []byte) {
	t.Helper()
	ctx := context.Background()
	d, err := s.Resolve(ctx, oci.CosignAttestationTag(image.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := oci.FetchManifest(ctx, s, d, oci.DefaultMaxManifestBytes)
	if err != nil {
		t.Fatal(err)
	}
	config, err := oci.FetchBlob(ctx, s, m.Config, oci.DefaultMaxBlobBytes)
	if err != nil {
		t.Fatal(err)
	}
	return d, *m, config
}

func layerDigests(ls []ocispec.Descriptor) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Digest.String()
	}
	return out
}

// checkConfigNames checks that an .att config names layers, as cosign's
// does: rootfs.diff_ids and one history entry per layer.
func checkConfigNames(t testing.TB, config []byte, layers []ocispec.Descriptor) {
	t.Helper()
	var c struct {
		History []json.RawMessage `json:"history"`
		RootFS  struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.RootFS.DiffIDs, layerDigests(layers)) || len(c.History) != len(layers) {
		t.Errorf("config names %v with %d history entries, want %v", c.RootFS.DiffIDs, len(c.History), layerDigests(layers))
	}
}

// TestCosignCopy copies the layers of cosign's .att tag that were counted,
// exactly, to another store: a new tag; a tag holding another's layer,
// both kept; a second time, nothing written; all three layers, the same
// manifest by digest; a tag that moved after it was read, what was read.
func TestCosignCopy(t *testing.T) {
	ctx := context.Background()
	be := newBackend(t, true)
	src := open(t, be.host+"/app")
	image := pushCosignImage(t, src, "v1")
	srcAtt := pushCosignTag(t, src, image)
	tag := oci.CosignAttestationTag(image.Digest.String())
	vuln, slsa, custom := cosignLayer(t, "vuln-uri"), cosignLayer(t, "slsa"), cosignLayer(t, "custom")

	t.Run("new tag", func(t *testing.T) {
		// Another registry: go-containerregistry's shares blobs between
		// repositories.
		dbe := newBackend(t, false)
		dst := open(t, dbe.host+"/new")
		c, err := oci.PlanCosignCopy(ctx, src, dst, image, cosignAtts(t, src, image, vulnURI), oci.CosignCopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Tag != tag || c.Source.Digest != srcAtt.Digest || c.Existing.Digest != "" || !slices.Equal(layerDigests(c.Missing), []string{vuln.Digest.String()}) {
			t.Fatalf("plan: %+v", c)
		}
		if _, err := dst.Resolve(ctx, tag); err == nil {
			t.Fatal("the plan wrote the tag")
		}
		if err := c.Write(ctx); err != nil {
			t.Fatal(err)
		}
		d, m, config := attManifest(t, dst, image)
		if d.Digest != c.Manifest.Digest || len(m.Layers) != 1 || m.MediaType != ocispec.MediaTypeImageManifest || m.Subject != nil {
			t.Fatalf("dst's tag: %s %+v", d.Digest, m)
		}
		if got := m.Layers[0]; got.Digest != vuln.Digest || got.Size != vuln.Size || got.MediaType != oci.MediaTypeDSSE ||
			got.Annotations["predicateType"] != vulnURI || got.Annotations["dev.cosignproject.cosign/signature"] != "" || len(got.Annotations) != 2 {
			t.Errorf("layer %+v, want %+v", got, vuln)
		}
		if blob := fetch(t, dst, vuln); !bytes.Equal(blob, cosignFile(t, "att-layer.vuln-uri.json")) {
			t.Error("the layer's bytes changed")
		}
		checkConfigNames(t, config, m.Layers)
		for _, l := range []ocispec.Descriptor{slsa, custom} {
			if ok, _ := dst.Exists(ctx, l); ok {
				t.Errorf("layer %s, not counted, was copied", l.Digest)
			}
		}
		got := cosignAtts(t, dst, image, vulnURI)
		if !bytes.Equal(got[0].Statement, cosignAtts(t, src, image, vulnURI)[0].Statement) || got[0].Envelope.VerifyKey(cosignKey(t, "cosign.pub")) != nil {
			t.Error("dst's attestation is not src's, signed by cosign's key")
		}

		// Again: nothing missing, nothing written.
		dbe.records(true)
		again, err := oci.PlanCosignCopy(ctx, src, dst, image, cosignAtts(t, src, image, vulnURI), oci.CosignCopyOptions{})
		if err != nil || len(again.Missing) != 0 || again.Existing.Digest != d.Digest {
			t.Fatalf("second plan: %+v %v", again, err)
		}
		if err := again.Write(ctx); err != nil || again.Manifest.Digest != d.Digest {
			t.Fatalf("second write: %v %s", err, again.Manifest.Digest)
		}
		if w := writesPerDigest(dbe.records(false)); len(w) != 0 {
			t.Errorf("the second copy wrote %v", w)
		}
	})

	t.Run("all layers", func(t *testing.T) {
		dst := open(t, be.host+"/all")
		c, err := oci.PlanCosignCopy(ctx, src, dst, image, cosignAtts(t, src, image, vulnURI, "https://slsa.dev/provenance/v0.2", "https://cosign.sigstore.dev/attestation/v1"), oci.CosignCopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx); err != nil {
			t.Fatal(err)
		}
		if d, _, _ := attManifest(t, dst, image); d.Digest != srcAtt.Digest {
			t.Errorf("dst's tag is %s, want src's manifest %s", d.Digest, srcAtt.Digest)
		}
	})

	t.Run("merged", func(t *testing.T) {
		dst := open(t, be.host+"/merged")
		// Another's attestation is there already (a layer of its own
		// tag, and one the copy also carries).
		other := pushBytes(t, dst, oci.MediaTypeDSSE, cosignFile(t, "att-layer.slsa.json"), slsa.Annotations)
		pushBytes(t, dst, oci.MediaTypeDSSE, cosignFile(t, "att-layer.custom.json"), nil)
		before := attTag(t, dst, image, other, custom)
		c, err := oci.PlanCosignCopy(ctx, src, dst, image, cosignAtts(t, src, image, vulnURI, "https://cosign.sigstore.dev/attestation/v1"), oci.CosignCopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Existing.Digest != before.Digest || !slices.Equal(layerDigests(c.Missing), []string{vuln.Digest.String()}) {
			t.Fatalf("plan: %+v", c)
		}
		if err := c.Write(ctx); err != nil {
			t.Fatal(err)
		}
		_, m, config := attManifest(t, dst, image)
		if want := layerDigests([]ocispec.Descriptor{slsa, custom, vuln}); !slices.Equal(layerDigests(m.Layers), want) {
			t.Fatalf("dst's tag has %v, want %v", layerDigests(m.Layers), want)
		}
		checkConfigNames(t, config, m.Layers)
		if len(cosignAtts(t, dst, image, vulnURI, "https://slsa.dev/provenance/v0.2", "https://cosign.sigstore.dev/attestation/v1")) != 3 {
			t.Error("dst does not read all three")
		}
	})

	t.Run("read before the tag moved", func(t *testing.T) {
		s := open(t, be.host+"/moving")
		img := pushCosignImage(t, s, "v1")
		pushBytes(t, s, oci.MediaTypeDSSE, cosignFile(t, "att-layer.vuln-uri.json"), nil)
		attTag(t, s, img, vuln)
		atts := cosignAtts(t, s, img, vulnURI)
		// cosign attest appends a layer after the attestations were read.
		pushBytes(t, s, oci.MediaTypeDSSE, cosignFile(t, "att-layer.slsa.json"), nil)
		attTag(t, s, img, vuln, slsa)
		dst := open(t, be.host+"/moving-dst")
		c, err := oci.PlanCosignCopy(ctx, s, dst, img, atts, oci.CosignCopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx); err != nil {
			t.Fatal(err)
		}
		if _, m, _ := attManifest(t, dst, img); !slices.Equal(layerDigests(m.Layers), []string{vuln.Digest.String()}) {
			t.Errorf("dst's tag has %v, want only what was read", layerDigests(m.Layers))
		}
	})

	t.Run("to an OCI layout", func(t *testing.T) {
		name := newStore(t, "layout")
		dir := strings.TrimPrefix(name, oci.LayoutPrefix)
		dst := open(t, name)
		for range 2 {
			c, err := oci.PlanCosignCopy(ctx, src, dst, image, cosignAtts(t, src, image, vulnURI), oci.CosignCopyOptions{DstLayout: dir})
			if err == nil {
				err = c.Write(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, m, _ := attManifest(t, dst, image); !slices.Equal(layerDigests(m.Layers), []string{vuln.Digest.String()}) {
			t.Errorf("the layout's tag has %v", layerDigests(m.Layers))
		}
		if _, err := os.Stat(filepath.Join(dir, "ingest")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the layout's ingest/ is left: %v", err)
		}
	})

	t.Run("none of that form", func(t *testing.T) {
		c, err := oci.PlanCosignCopy(ctx, src, open(t, be.host+"/none"), image, nil, oci.CosignCopyOptions{})
		if c != nil || err != nil {
			t.Fatalf("%+v %v", c, err)
		}
	})
}

// TestCosignCopyRefused: what cannot be copied within the limits, or
// merged with what the destination holds, is refused before anything is
// written there.
func TestCosignCopyRefused(t *testing.T) {
	ctx := context.Background()
	be := newBackend(t, true)
	src := open(t, be.host+"/app")
	image := pushCosignImage(t, src, "v1")
	pushCosignTag(t, src, image)
	tag := oci.CosignAttestationTag(image.Digest.String())
	counted := cosignAtts(t, src, image, vulnURI)
	for _, tc := range []struct {
		name string
		dst  func(t *testing.T, dst oci.Store)
		atts func() []oci.Attestation
		o    oci.CosignCopyOptions
		want string
	}{
		{name: "a layer over the blob limit", o: oci.CosignCopyOptions{MaxBlobBytes: 500}, want: "more than the 500 allowed"},
		{name: "dst's tag is an index", dst: func(t *testing.T, dst oci.Store) {
			d := pushJSON(t, dst, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex})
			if err := dst.Tag(ctx, d, tag); err != nil {
				t.Fatal(err)
			}
		}, want: "not an image manifest; not replacing it"},
		{name: "dst's tag has 64 layers", dst: func(t *testing.T, dst oci.Store) {
			var ls []ocispec.Descriptor
			for i := range 64 {
				ls = append(ls, pushBytes(t, dst, oci.MediaTypeDSSE, fmt.Appendf(nil, `{"n":%d}`, i), nil))
			}
			attTag(t, dst, image, ls...)
		}, want: "more than the 64 referee reads"},
		{name: "a source naming no layer", atts: func() []oci.Attestation {
			a := counted[0]
			a.Source = "tag " + tag
			return []oci.Attestation{a}
		}, want: "is not a layer of tag"},
		{name: "a layer beyond the manifest's", atts: func() []oci.Attestation {
			a := counted[0]
			a.Source = "tag " + tag + " layer 7"
			return []oci.Attestation{a}
		}, want: "has no layer 7"},
		{name: "another layer than the one read", atts: func() []oci.Attestation {
			a := counted[0]
			a.Source = "tag " + tag + " layer 0"
			return []oci.Attestation{a}
		}, want: "not the attestation verification read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := open(t, be.host+"/"+strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", "-"), "'", ""))
			if tc.dst != nil {
				tc.dst(t, dst)
			}
			before, _ := dst.Resolve(ctx, tag)
			be.records(true)
			atts := counted
			if tc.atts != nil {
				atts = tc.atts()
			}
			_, err := oci.PlanCosignCopy(ctx, src, dst, image, atts, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if w := writesPerDigest(be.records(false)); len(w) != 0 {
				t.Errorf("wrote %v", w)
			}
			if after, _ := dst.Resolve(ctx, tag); after.Digest != before.Digest {
				t.Errorf("dst's tag moved from %s to %s", before.Digest, after.Digest)
			}
		})
	}
}

// TestCosignCopyThroughFaults merges into a tag through a proxy failing
// a tenth of the requests: every layer the tag held, and the one copied,
// are there once.
func TestCosignCopyThroughFaults(t *testing.T) {
	ctx := context.Background()
	be := newBackend(t, true)
	src := open(t, be.host+"/app")
	image := pushCosignImage(t, src, "v1")
	pushCosignTag(t, src, image)
	atts := cosignAtts(t, src, image, vulnURI)
	slsa, vuln := cosignLayer(t, "slsa"), cosignLayer(t, "vuln-uri")
	proxy := testenv.NewFaultProxy(t, be.host, faultRate, uint64(time.Now().UnixNano()))
	for i := range 10 {
		repo := fmt.Sprintf("/dst%d", i)
		direct := open(t, be.host+repo)
		attTag(t, direct, image, pushBytes(t, direct, oci.MediaTypeDSSE, cosignFile(t, "att-layer.slsa.json"), slsa.Annotations))
		dst := open(t, proxy.Host+repo)
		c, err := oci.PlanCosignCopy(ctx, src, dst, image, atts, oci.CosignCopyOptions{})
		if err == nil {
			err = c.Write(ctx)
		}
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		if _, m, _ := attManifest(t, direct, image); !slices.Equal(layerDigests(m.Layers), layerDigests([]ocispec.Descriptor{slsa, vuln})) {
			t.Errorf("copy %d: dst's tag has %v", i, layerDigests(m.Layers))
		}
	}
	t.Logf("proxy: %+v", proxy.Counts())
}
