package oci_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// TestFindAttestationsHostile: what a registry, or anyone who can push to
// the repository, may put where attestations are looked for. Each case
// adds one bad candidate beside a good cosign bundle: the bad one is
// skipped with a reason (never an attestation), the good one still found;
// bytes that do not match their descriptor are an error, as in Gather.
func TestFindAttestationsHostile(t *testing.T) {
	envelope := cosignFile(t, "att-layer.slsa.json")
	dsse := func(t testing.TB, s oci.Store, data []byte) ocispec.Descriptor {
		return pushBytes(t, s, oci.MediaTypeDSSE, data, nil)
	}
	signer, err := attest.GenerateKey(attest.KeyTypeEd25519)
	if err != nil {
		t.Fatal(err)
	}
	sc := newSupplyChain(t, attest.FormDSSE)
	metablock := newSupplyChain(t, attest.FormMetablock)
	for _, tc := range []struct {
		name string
		// push adds the bad candidate for image.
		push func(t *testing.T, s oci.Store, image ocispec.Descriptor)
		o    oci.AttestationOptions
		// skip is in the reason of the one skipped candidate; err, when
		// set, is in the error instead.
		skip, err string
	}{
		{name: "bundle not JSON", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			bundleReferrer(t, s, image, []byte("this is not JSON"))
		}, skip: "not a Sigstore bundle"},
		{name: "bundle a JSON list", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			bundleReferrer(t, s, image, []byte(`[{"dsseEnvelope":{}}]`))
		}, skip: "not a Sigstore bundle"},
		{name: "bundle of a plain signature", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			// cosign sign --new-bundle-format: not an attestation, so
			// neither found nor skipped.
			bundleReferrer(t, s, image, []byte(`{"mediaType":"`+oci.MediaTypeSigstoreBundle+`","messageSignature":{"signature":"AA=="}}`))
		}},
		{name: "bundle with no bundle layer", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			config := pushBytes(t, s, "application/vnd.oci.empty.v1+json", []byte("{}"), nil)
			subj := ocispec.Descriptor{MediaType: image.MediaType, Digest: image.Digest, Size: image.Size}
			pushJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
				Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: oci.MediaTypeSigstoreBundle,
				Config: config, Layers: []ocispec.Descriptor{dsse(t, s, envelope)}, Subject: &subj,
			})
		}, skip: "no application/vnd.dev.sigstore.bundle.v0.3+json layer"},
		{name: "bundle of another media type", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			bundleReferrer(t, s, image, []byte(`{"mediaType":"application/json","dsseEnvelope":`+string(envelope)+`}`))
		}, skip: "mediaType"},
		{name: "bundle with two envelopes", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			other := mustMarshal(t, mustSign(t, signer, cosignV1))
			bundleReferrer(t, s, image, []byte(`{"mediaType":"`+oci.MediaTypeSigstoreBundle+`","dsseEnvelope":`+string(other)+`,"dsseEnvelope":`+string(envelope)+`}`))
		}, skip: "appears twice"},
		{name: "bundle envelope under its proto name", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			bundleReferrer(t, s, image, []byte(`{"mediaType":"`+oci.MediaTypeSigstoreBundle+`","dsse_envelope":`+string(envelope)+`,"dsseEnvelope":`+string(envelope)+`}`))
		}, skip: "dsse_envelope"},
		{name: "bundle envelope of another payload type", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			bundleReferrer(t, s, image, asBundle(t, []byte(strings.Replace(string(envelope), "application/vnd.in-toto+json", "text/plain", 1))))
		}, skip: "payloadType"},
		{name: "bundle of a link, not a statement", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			bundleReferrer(t, s, image, asBundle(t, sc.links["build"]))
		}, skip: "not an in-toto Statement"},
		{name: "bundle layer larger than allowed", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			bundleReferrer(t, s, image, asBundle(t, []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"`+strings.Repeat("A", 4096)+`","signatures":[]}`)))
		}, o: oci.AttestationOptions{MaxBlobBytes: 2048}, skip: "more than the 2048 allowed"},
		{name: "bundle referrer naming another subject", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			// Listed under image in a forged index, its manifest names
			// another image.
			other := pushImage(t, s, "other")
			d := bundleReferrer(t, s, other, cosignFile(t, "bundle.slsa.json"))
			list, err := oci.ListReferrers(context.Background(), s, image, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			testenv.ForgeTagIndex(t, s, image, append(list, d))
		}, skip: "names subject"},
		{name: "att tag: layer larger than allowed", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			huge := ocispec.Descriptor{MediaType: oci.MediaTypeDSSE, Digest: digest.FromString("huge"), Size: 1 << 40}
			attTag(t, s, image, huge)
		}, skip: "more than the 16777216 allowed"},
		{name: "att tag: manifest larger than allowed", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			layers := make([]ocispec.Descriptor, 40)
			for i := range layers {
				layers[i] = dsse(t, s, envelope)
				layers[i].Annotations = map[string]string{"padding": strings.Repeat("x", 100)}
			}
			attTag(t, s, image, layers...)
		}, o: oci.AttestationOptions{MaxManifestBytes: 4096}, skip: "more than the 4096 allowed"},
		{name: "att tag: too many layers", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			layers := make([]ocispec.Descriptor, 65)
			for i := range layers {
				layers[i] = dsse(t, s, envelope)
			}
			attTag(t, s, image, layers...)
		}, skip: "has 65 layers"},
		{name: "att tag: an index", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			idx := pushIndex(t, s, image)
			if err := s.Tag(context.Background(), idx, oci.CosignAttestationTag(image.Digest.String())); err != nil {
				t.Fatal(err)
			}
		}, skip: "not an image manifest"},
		{name: "att tag: a Metablock layer", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			attTag(t, s, image, dsse(t, s, metablock.links["build"]))
		}, skip: "not DSSE"},
		{name: "att tag: a layer that is no envelope", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			attTag(t, s, image, dsse(t, s, []byte(`{"hello":"world"}`)))
		}, skip: "not a signed in-toto document"},
		{name: "att tag: a layer that is a link", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			attTag(t, s, image, dsse(t, s, sc.links["build"]))
		}, skip: "not an in-toto Statement"},
		{name: "att tag: a layer gone from the store", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			attTag(t, s, image, ocispec.Descriptor{MediaType: oci.MediaTypeDSSE, Digest: digest.FromString("gone"), Size: 4})
		}, skip: "gone"},
		{name: "att tag: a layer whose bytes are not its descriptor's", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			l := dsse(t, s, envelope)
			l.Size--
			attTag(t, s, image, l)
		}, err: "tag sha256-"},
		{name: "referee statement: manifest says another media type", push: func(t *testing.T, s oci.Store, image ocispec.Descriptor) {
			layer := dsse(t, s, mustMarshal(t, mustSign(t, signer, image.Digest.String())))
			config := pushBytes(t, s, oci.ArtifactTypeStatementDSSE, []byte("{}"), nil)
			subj := ocispec.Descriptor{MediaType: image.MediaType, Digest: image.Digest, Size: image.Size}
			pushJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
				Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
				ArtifactType: oci.ArtifactTypeStatementDSSE, Config: config, Layers: []ocispec.Descriptor{layer}, Subject: &subj,
			})
		}, skip: "not an image manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, newStore(t, "tag-schema"))
			image := pushCosignImage(t, s, "v1")
			good := bundleReferrer(t, s, image, cosignFile(t, "bundle.vuln-uri.json"))
			tc.push(t, s, image)
			got, err := oci.ReadAttestations(ctx, s, image, tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Found) != 1 || got.Found[0].Referrer.Digest != good.Digest {
				t.Errorf("found %+v, want only the good bundle", got.Found)
			}
			if tc.skip == "" {
				if len(got.Skipped) != 0 {
					t.Fatalf("skipped %+v, want none", got.Skipped)
				}
				return
			}
			if len(got.Skipped) != 1 || !strings.Contains(got.Skipped[0].Reason, tc.skip) || strings.Contains(got.Skipped[0].Reason, "\n") {
				t.Fatalf("skipped %+v, want one with %q", got.Skipped, tc.skip)
			}
			t.Logf("skipped: %s", got.Skipped[0].Reason)
			if found, err := oci.FindAttestations(ctx, s, image, tc.o); err != nil || len(found) != 1 {
				t.Errorf("FindAttestations: %v %+v", err, found)
			}
		})
	}
}

func mustSign(t testing.TB, signer *attest.Signer, digest string) *attest.Envelope {
	t.Helper()
	env, err := attest.SignStatement([]byte(mustStatement(t, digest)), signer)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestFindAttestationsOtherKey: a bundle signed by a key that is not
// cosign's is found, and does not verify with cosign's key; its bundle's
// verification material is never consulted.
func TestFindAttestationsOtherKey(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushCosignImage(t, s, "v1")
	signer, err := attest.GenerateKey(attest.KeyTypeECDSA)
	if err != nil {
		t.Fatal(err)
	}
	bundleReferrer(t, s, image, asBundle(t, mustMarshal(t, mustSign(t, signer, image.Digest.String()))))
	found, err := oci.FindAttestations(ctx, s, image, oci.AttestationOptions{})
	if err != nil || len(found) != 1 {
		t.Fatalf("%v %+v", err, found)
	}
	if err := found[0].Envelope.VerifyKey(cosignKey(t, "cosign.pub")); err == nil {
		t.Error("verifies with cosign's key")
	}
	if err := found[0].Envelope.VerifyKey(signer.Key()); err != nil {
		t.Error(err)
	}
}
