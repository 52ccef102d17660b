package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// The cosign samples in testdata/cosign were written by cosign v2.6.5
// (cosign attest --key cosign.key --tlog-upload=false, legacy and
// --new-bundle-format) about image-v1 (sha256:90e736f0…); att-layer.v2-slsa
// is about image-v2 (sha256:69193a3b…). other.pub is another cosign key.
const (
	cosignV1 = "sha256:90e736f0cde147859df11cfa7c3bc0b6f9d4b6ff59d9b9097e05eeebffecb9ac"
	cosignV2 = "sha256:69193a3b7eab736b04bdbfffb49cfd1289bc8ff0ec8d01f6ca9ba9cf71016e30"
	vulnURI  = "https://example.com/vuln/v1"
)

func cosignFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cosign", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cosignKey(t testing.TB, name string) *attest.Key {
	t.Helper()
	k, err := attest.ParsePublicKey(cosignFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pushBytes pushes data as mediaType (a blob, or a manifest by its media
// type), exactly as given.
func pushBytes(t testing.TB, s oci.Store, mediaType string, data []byte, ann map[string]string) ocispec.Descriptor {
	t.Helper()
	d := content.NewDescriptorFromBytes(mediaType, data)
	if err := s.Push(context.Background(), d, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		t.Fatal(err)
	}
	d.Annotations = ann
	return d
}

// pushCosignImage pushes image-vN exactly as cosign's samples name it.
func pushCosignImage(t testing.TB, s oci.Store, n string) ocispec.Descriptor {
	t.Helper()
	pushBytes(t, s, ocispec.MediaTypeImageConfig, cosignFile(t, "image-"+n+".config.json"), nil)
	pushBytes(t, s, ocispec.MediaTypeImageLayerGzip, cosignFile(t, "image-"+n+".layer.tar.gz"), nil)
	d := pushBytes(t, s, ocispec.MediaTypeImageManifest, cosignFile(t, "image-"+n+".manifest.json"), nil)
	if err := s.Tag(context.Background(), d, n); err != nil {
		t.Fatal(err)
	}
	return d
}

// pushCosignTag pushes cosign's legacy attestations of image: the sample
// manifest (its config and three DSSE layers) at sha256-<hex>.att.
func pushCosignTag(t testing.TB, s oci.Store, image ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	pushBytes(t, s, ocispec.MediaTypeImageConfig, cosignFile(t, "att.config.json"), nil)
	for _, k := range []string{"slsa", "custom", "vuln-uri"} {
		pushBytes(t, s, oci.MediaTypeDSSE, cosignFile(t, "att-layer."+k+".json"), nil)
	}
	d := pushBytes(t, s, ocispec.MediaTypeImageManifest, cosignFile(t, "att.manifest.json"), nil)
	if err := s.Tag(context.Background(), d, oci.CosignAttestationTag(image.Digest.String())); err != nil {
		t.Fatal(err)
	}
	return d
}

// attTag pushes an .att manifest for image with layers, as cosign would.
func attTag(t testing.TB, s oci.Store, image ocispec.Descriptor, layers ...ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	config := pushJSON(t, s, ocispec.MediaTypeImageConfig, map[string]any{"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}})
	d := pushJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: layers,
	})
	if err := s.Tag(context.Background(), d, oci.CosignAttestationTag(image.Digest.String())); err != nil {
		t.Fatal(err)
	}
	return d
}

// bundleReferrer pushes a Sigstore bundle referrer of subject as cosign
// --new-bundle-format does (empty config, one bundle layer).
func bundleReferrer(t testing.TB, s oci.Store, subject ocispec.Descriptor, bundle []byte) ocispec.Descriptor {
	t.Helper()
	config := pushBytes(t, s, "application/vnd.oci.empty.v1+json", []byte("{}"), nil)
	layer := pushBytes(t, s, oci.MediaTypeSigstoreBundle, bundle, nil)
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	return pushJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: oci.MediaTypeSigstoreBundle, Config: config, Layers: []ocispec.Descriptor{layer}, Subject: &subj,
		Annotations: map[string]string{"dev.sigstore.bundle.content": "dsse-envelope"},
	})
}

// asBundle wraps a DSSE envelope in a Sigstore bundle v0.3.
func asBundle(t testing.TB, envelope []byte) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"mediaType":            oci.MediaTypeSigstoreBundle,
		"verificationMaterial": map[string]any{"publicKey": map[string]any{"hint": "bm90IHRydXN0ZWQ="}},
		"dsseEnvelope":         json.RawMessage(envelope),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFindAttestationsCosign: cosign's legacy .att layers and its bundle
// referrers, as cosign v2.6.5 wrote them, are found on registries with and
// without the referrers API (there, listed as cosign's go-containerregistry
// lists them: empty-config type, no annotations) and in an OCI layout;
// each envelope verifies with cosign's public key as an in-toto key, not
// with another cosign key, and names the image.
func TestFindAttestationsCosign(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			s := open(t, newStore(t, kind))
			image := pushCosignImage(t, s, "v1")
			if image.Digest.String() != cosignV1 {
				t.Fatalf("image %s", image.Digest)
			}
			att := pushCosignTag(t, s, image)
			bundles := map[string]bool{}
			var entries []ocispec.Descriptor
			for _, k := range []string{"slsa", "custom", "vuln-uri"} {
				pushBytes(t, s, "application/vnd.oci.empty.v1+json", []byte("{}"), nil)
				pushBytes(t, s, oci.MediaTypeSigstoreBundle, cosignFile(t, "bundle."+k+".json"), nil)
				d := pushBytes(t, s, ocispec.MediaTypeImageManifest, cosignFile(t, "bundle-manifest."+k+".json"), nil)
				bundles[d.Digest.String()] = true
				d.ArtifactType = "application/vnd.oci.empty.v1+json"
				entries = append(entries, d)
			}
			if kind == "tag-schema" {
				testenv.ForgeTagIndex(t, s, image, entries)
			}

			found, err := oci.FindAttestations(ctx, s, image, oci.AttestationOptions{})
			if err != nil {
				t.Fatal(err)
			}
			key, other := cosignKey(t, "cosign.pub"), cosignKey(t, "other.pub")
			forms := map[string]int{}
			for _, a := range found {
				forms[a.Form]++
				switch a.Form {
				case oci.AttestationFormCosign:
					if a.Referrer.Digest != att.Digest || !strings.HasPrefix(a.Source, "tag sha256-"+image.Digest.Encoded()+".att layer ") {
						t.Errorf("legacy: %s %s", a.Referrer.Digest, a.Source)
					}
				case oci.AttestationFormCosignBundle:
					if !bundles[a.Referrer.Digest.String()] || a.Referrer.ArtifactType != oci.MediaTypeSigstoreBundle {
						t.Errorf("bundle: %+v", a.Referrer)
					}
				}
				if a.Envelope == nil || !bytes.Equal(a.Envelope.Payload, a.Statement) {
					t.Fatalf("%s: no envelope or payload differs", a.Source)
				}
				if err := a.Envelope.VerifyKey(key); err != nil {
					t.Errorf("%s: %v", a.Source, err)
				}
				if err := a.Envelope.VerifyKey(other); err == nil {
					t.Errorf("%s: verifies with another cosign key", a.Source)
				}
				st, err := attest.ParseStatement(a.Statement)
				if err != nil || !st.NamesDigest(cosignV1) || st.Type != attest.StatementTypeV01 {
					t.Errorf("%s: %v %+v", a.Source, err, st)
				}
			}
			if forms[oci.AttestationFormCosign] != 3 || forms[oci.AttestationFormCosignBundle] != 3 || len(found) != 6 {
				t.Fatalf("found %v", forms)
			}
			vuln, err := oci.FindAttestations(ctx, s, image, oci.AttestationOptions{PredicateType: vulnURI})
			if err != nil || len(vuln) != 2 || vuln[0].Form == vuln[1].Form {
				t.Fatalf("predicate type filter: %v %+v", err, vuln)
			}
			// Nothing for an image with none.
			bare := pushImage(t, s, "bare")
			if got, err := oci.ReadAttestations(ctx, s, bare, oci.AttestationOptions{}); err != nil || len(got.Found)+len(got.Skipped) != 0 {
				t.Fatalf("bare image: %v %+v", err, got)
			}
		})
	}
}

// TestFindAttestationsOtherImage: statements about another image, copied
// onto this one as anyone who can push may (cosign's .att of image-v2
// under image-v1's tag; image-v1's bundle re-attached to image-v2), are
// returned as found: their signatures verify, and their subjects name
// another image, which is for the reader to refuse.
func TestFindAttestationsOtherImage(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	v1, v2 := pushCosignImage(t, s, "v1"), pushCosignImage(t, s, "v2")
	attTag(t, s, v1, pushBytes(t, s, oci.MediaTypeDSSE, cosignFile(t, "att-layer.v2-slsa.json"), nil))
	bundleReferrer(t, s, v2, cosignFile(t, "bundle.slsa.json"))
	key := cosignKey(t, "cosign.pub")
	for _, tc := range []struct {
		image      ocispec.Descriptor
		form, says string
	}{{v1, oci.AttestationFormCosign, cosignV2}, {v2, oci.AttestationFormCosignBundle, cosignV1}} {
		found, err := oci.FindAttestations(ctx, s, tc.image, oci.AttestationOptions{})
		if err != nil || len(found) != 1 || found[0].Form != tc.form {
			t.Fatalf("%s: %v %+v", tc.image.Digest, err, found)
		}
		if err := found[0].Envelope.VerifyKey(key); err != nil {
			t.Errorf("%s: %v", tc.form, err)
		}
		st, err := attest.ParseStatement(found[0].Statement)
		if err != nil || st.NamesDigest(tc.image.Digest.String()) || !st.NamesDigest(tc.says) {
			t.Errorf("%s: the statement should name %s only: %v %+v", tc.form, tc.says, err, st)
		}
	}
}

// TestFindAttestationsReferee: referee attest's path: NewStatement,
// SignStatement, AttachStatement; found as form "referee" beside the
// others; AttachStatement refuses what would never count.
func TestFindAttestationsReferee(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			s := open(t, newStore(t, kind))
			image, other := pushImage(t, s, "app"), pushImage(t, s, "other")
			signer, err := attest.GenerateKey(attest.KeyTypeECDSA)
			if err != nil {
				t.Fatal(err)
			}
			sign := func(digest string) []byte {
				t.Helper()
				payload, err := attest.NewStatement("registry.example/app", digest, vulnURI, []byte(`{"critical":0}`))
				if err != nil {
					t.Fatal(err)
				}
				env, err := attest.SignStatement(payload, signer)
				if err != nil {
					t.Fatal(err)
				}
				data, err := env.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			data := sign(image.Digest.String())
			a, err := oci.AttachStatement(ctx, s, image, data, oci.AttachStatementOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if again, err := oci.AttachStatement(ctx, s, image, data, oci.AttachStatementOptions{}); err != nil || !again.Existed || again.Manifest.Digest != a.Manifest.Digest {
				t.Fatalf("again: %v %+v", err, again)
			}
			// A link (classic) and a layout are not attestations.
			sc := newSupplyChain(t, attest.FormDSSE)
			if _, err := oci.Attach(ctx, s, image, sc.links["build"], oci.AttachOptions{}); err != nil {
				t.Fatal(err)
			}
			found, err := oci.FindAttestations(ctx, s, image, oci.AttestationOptions{})
			if err != nil || len(found) != 1 {
				t.Fatalf("%v %+v", err, found)
			}
			f := found[0]
			if f.Form != oci.AttestationFormReferee || f.Referrer.Digest != a.Manifest.Digest || f.Referrer.Annotations[oci.AnnotationPredicateType] != vulnURI {
				t.Fatalf("%+v", f)
			}
			if err := f.Envelope.VerifyKey(signer.Key()); err != nil {
				t.Fatal(err)
			}

			for _, tc := range []struct {
				name string
				data []byte
				want string
			}{
				{"another image", sign(other.Digest.String()), "another subject"},
				{"unsigned", mustMarshal(t, attest.NewEnvelope(attest.FormDSSE, []byte(mustStatement(t, image.Digest.String())))), "not signed"},
				{"metablock", mustMarshal(t, attest.NewEnvelope(attest.FormMetablock, []byte(mustStatement(t, image.Digest.String())))), "DSSE"},
				{"a link", sc.links["build"], "statement"},
				{"not JSON", []byte("{"), "JSON"},
			} {
				if _, err := oci.AttachStatement(ctx, s, image, tc.data, oci.AttachStatementOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
				}
			}
		})
	}
}

func mustStatement(t testing.TB, digest string) string {
	t.Helper()
	p, err := attest.NewStatement("app", digest, vulnURI, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

func mustMarshal(t testing.TB, e *attest.Envelope) []byte {
	t.Helper()
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLinkStatementAttached: a link statement in DSSE attaches as a link
// (referee's link artifact type, its step annotated) and is gathered as
// the link of its step, not as an attestation.
func TestLinkStatementAttached(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "tag-schema"))
	image := pushImage(t, s, "app")
	signer, err := attest.GenerateKey(attest.KeyTypeEd25519)
	if err != nil {
		t.Fatal(err)
	}
	l := &attest.Link{Name: "build", Command: []string{"make"}, Products: map[string]attest.HashObj{"app": {"sha256": image.Digest.Encoded()}}}
	payload, err := l.Statement()
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, signer)
	if err != nil {
		t.Fatal(err)
	}
	a, err := oci.Attach(ctx, s, image, mustMarshal(t, env), oci.AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Manifest.ArtifactType != oci.ArtifactTypeLinkDSSE || a.Manifest.Annotations[oci.AnnotationStep] != "build" {
		t.Fatalf("%+v", a.Manifest)
	}
	_, bundle, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bundle.Links) != 1 || bundle.Links[0].Step != "build" || bundle.Links[0].Kind != "link" {
		t.Fatalf("links %+v skipped %+v", bundle.Links, bundle.Skipped)
	}
	if found, err := oci.FindAttestations(ctx, s, image, oci.AttestationOptions{}); err != nil || len(found) != 0 {
		t.Fatalf("as attestations: %v %+v", err, found)
	}
	if _, err := oci.AttachStatement(ctx, s, image, mustMarshal(t, env), oci.AttachStatementOptions{}); err == nil || !strings.Contains(err.Error(), "link") {
		t.Fatalf("AttachStatement of a link statement: %v", err)
	}
}

// TestFindAttestationsBuildKit: BuildKit's attestation manifests in an
// index are found as unsigned statements (Envelope nil); one with a
// problem is skipped with it.
func TestFindAttestationsBuildKit(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			s := open(t, newStore(t, kind))
			index, image, att := buildKitImage(t, s)
			got, err := oci.ReadAttestations(ctx, s, index, oci.AttestationOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Found) != 2 || len(got.Skipped) != 0 {
				t.Fatalf("%+v", got)
			}
			for _, a := range got.Found {
				if a.Form != oci.AttestationFormBuildKit || a.Envelope != nil || a.Referrer.Digest != att.Digest || !strings.Contains(a.Source, "unsigned") {
					t.Errorf("%+v", a)
				}
				st, err := attest.ParseStatement(a.Statement)
				if err != nil || !st.NamesDigest(image.Digest.String()) {
					t.Errorf("%v %+v", err, st)
				}
			}
			if got, err := oci.FindAttestations(ctx, s, index, oci.AttestationOptions{PredicateType: spdx}); err != nil || len(got) != 1 {
				t.Errorf("spdx: %v %+v", err, got)
			}
			// An attestation manifest for an image the index does not list.
			stray := attestationEntry(att, image)
			stray.Annotations[oci.AnnotationDockerReferenceDigest] = index.Digest.String()
			index2 := pushIndex(t, s, image, stray)
			got, err = oci.ReadAttestations(ctx, s, index2, oci.AttestationOptions{})
			if err != nil || len(got.Found) != 0 || len(got.Skipped) != 1 || !strings.Contains(got.Skipped[0].Reason, "does not list") {
				t.Fatalf("stray: %v %+v", err, got)
			}
		})
	}
}
