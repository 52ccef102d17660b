//go:build integration

package integration_test

// cosign v2.6.5 (installed by .ci/run) writes attestations with a key onto
// real registries (referee's embedded registry with the referrers API,
// docker-registry 2.8 without it), legacy (.att tag) and
// --new-bundle-format (Sigstore bundle referrers); referee finds them
// (oci.FindAttestations), verifies them with the cosign public key as an
// in-toto key, and tells those signed by another key, or about another
// image, apart.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

const cosignVulnType = "https://example.com/vuln/v1"

// cosignEnv is what every cosign command here runs with: no TUF fetches
// beyond a fresh root (offline, they fail fast), the key's password.
func cosignEnv(t *testing.T) []string {
	return []string{"TUF_ROOT=" + t.TempDir(), "COSIGN_PASSWORD=", "COSIGN_YES=true"}
}

// cosignKeys makes two cosign key pairs (empty password) in dir/key and
// dir/other.
func cosignKeys(t *testing.T, cosign, dir string) {
	t.Helper()
	for _, d := range []string{"key", "other"} {
		mkdirs(t, filepath.Join(dir, d))
		r := exeIO(t, runIO{dir: filepath.Join(dir, d), env: cosignEnv(t)}, cosign, "generate-key-pair")
		if r.code != 0 {
			t.Fatalf("cosign generate-key-pair:\n%s", r)
		}
	}
}

// cosignAttest runs cosign attest of the report as cosignVulnType onto
// image (HOST/REPO@DIGEST) with key (a dir of cosignKeys).
func cosignAttest(t *testing.T, cosign, dir, key, image string, bundle bool) {
	t.Helper()
	args := []string{"attest", "--yes", "--key", filepath.Join(dir, key, "cosign.key"), "--type", cosignVulnType,
		"--predicate", filepath.Join(dir, "report.json"), "--allow-insecure-registry", "--tlog-upload=false"}
	if bundle {
		args = append(args, "--new-bundle-format")
	}
	r := exeIO(t, runIO{dir: dir, env: cosignEnv(t)}, cosign, append(args, image)...)
	if r.code != 0 {
		t.Fatalf("cosign attest:\n%s", r)
	}
}

func TestCosignAttestations(t *testing.T) {
	cosign := tool(t, "cosign")
	if v := must(t, "", cosign, "version").out(); !strings.Contains(v, "v2.6.5") {
		t.Logf("cosign is not v2.6.5 (.ci/run pins it):\n%s", v)
	}
	crane := needCrane(t)
	dir := t.TempDir()
	cosignKeys(t, cosign, dir)
	writeFile(t, filepath.Join(dir, "report.json"), `{"scanner":"grype","results":[{"id":"CVE-2026-0001","severity":"LOW"}]}`)
	key := readKey(t, filepath.Join(dir, "key", "cosign.pub"))
	otherKey := readKey(t, filepath.Join(dir, "other", "cosign.pub"))
	if key.KeyType != attest.KeyTypeECDSA || key.KeyID == otherKey.KeyID {
		t.Fatalf("cosign keys as in-toto keys: %s %s %s", key.KeyType, key.KeyID, otherKey.KeyID)
	}
	// cosign's private key, loaded through cosign's code, is the same
	// in-toto key as its .pub.
	signer, err := attest.ParsePrivateKeyPassword([]byte(readFile(t, filepath.Join(dir, "key", "cosign.key"))), func() ([]byte, error) { return nil, nil })
	if err != nil || signer.Key().KeyID != key.KeyID {
		t.Fatalf("cosign.key: %v", err)
	}

	onRegistries(t, func(t *testing.T, r reg) {
		ctx := context.Background()
		// legacy: A; bundles: B (cosign verify-attestation ignores the
		// legacy form once an image has a bundle); C gets statements
		// about A and B copied onto it.
		refA, digA := pushImage(t, r.host, "app-a")
		refB, digB := pushImage(t, r.host, "app-b")
		refC, digC := pushImage(t, r.host, "app-c")
		imgA, imgB, imgC := atDigest(refA, digA), atDigest(refB, digB), atDigest(refC, digC)
		cosignAttest(t, cosign, dir, "key", imgA, false)
		cosignAttest(t, cosign, dir, "other", imgA, false)
		cosignAttest(t, cosign, dir, "key", imgB, true)
		cosignAttest(t, cosign, dir, "other", imgB, true)

		// cosign itself accepts the legacy attestation with the key.
		v := exeIO(t, runIO{dir: dir, env: cosignEnv(t)}, cosign, "verify-attestation", "--key", filepath.Join(dir, "key", "cosign.pub"),
			"--insecure-ignore-tlog", "--allow-insecure-registry", "--type", cosignVulnType, imgA)
		if v.code != 0 {
			t.Fatalf("cosign verify-attestation:\n%s", v)
		}

		// Replays onto C: cosign's .att of A copied to C's tag (crane cp),
		// and B's bundle referrer pushed again with C as its subject.
		host := r.host
		must(t, "", crane, "cp", "--insecure", host+"/app-a:"+oci.CosignAttestationTag(digA), host+"/app-c:"+oci.CosignAttestationTag(digC))
		repushBundle(t, ctx, imgB, imgC)

		find := func(image string) []oci.Attestation {
			t.Helper()
			s, _, desc, err := oci.OpenResolved(ctx, image, oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			found, err := oci.FindAttestations(ctx, s, desc, oci.AttestationOptions{PredicateType: cosignVulnType})
			if err != nil {
				t.Fatal(err)
			}
			return found
		}
		for _, tc := range []struct {
			image, digest, form string
			want                int
		}{{imgA, digA, oci.AttestationFormCosign, 2}, {imgB, digB, oci.AttestationFormCosignBundle, 2}} {
			found := find(tc.image)
			byKey, byOther := 0, 0
			for _, a := range found {
				if a.Form != tc.form || a.Envelope == nil {
					t.Errorf("%s: %s %s", tc.image, a.Form, a.Source)
					continue
				}
				st, err := attest.ParseStatement(a.Statement)
				if err != nil || !st.NamesDigest(tc.digest) || st.PredicateType != cosignVulnType {
					t.Errorf("%s: %v %+v", a.Source, err, st)
				}
				if !bytes.Contains(st.Predicate, []byte("CVE-2026-0001")) {
					t.Errorf("%s: predicate %s", a.Source, st.Predicate)
				}
				switch k, o := a.Envelope.VerifyKey(key), a.Envelope.VerifyKey(otherKey); {
				case k == nil && o != nil:
					byKey++
				case k != nil && o == nil:
					byOther++
				default:
					t.Errorf("%s: key %v, other key %v", a.Source, k, o)
				}
			}
			if len(found) != tc.want || byKey != 1 || byOther != 1 {
				t.Errorf("%s: %d found, %d by the key, %d by the other key", tc.image, len(found), byKey, byOther)
			}
		}
		// C: both replays are found and their signatures are cosign's,
		// but no statement names C.
		found := find(imgC)
		forms := map[string]int{}
		for _, a := range found {
			forms[a.Form]++
			st, err := attest.ParseStatement(a.Statement)
			if err != nil {
				t.Fatal(err)
			}
			if st.NamesDigest(digC) || !(st.NamesDigest(digA) || st.NamesDigest(digB)) {
				t.Errorf("%s: names %+v", a.Source, st.Subject)
			}
		}
		if forms[oci.AttestationFormCosign] != 2 || forms[oci.AttestationFormCosignBundle] != 1 {
			t.Errorf("replays onto C: %v", forms)
		}
	})
}

func readKey(t *testing.T, path string) *attest.Key {
	t.Helper()
	k, err := attest.ParsePublicKey([]byte(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// repushBundle pushes one of from's Sigstore bundle referrers into to's
// repository again with to as its subject, as anyone who can push may:
// the bundle and its signature are unchanged.
func repushBundle(t *testing.T, ctx context.Context, from, to string) {
	t.Helper()
	src, _, srcDesc, err := oci.OpenResolved(ctx, from, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dst, _, dstDesc, err := oci.OpenResolved(ctx, to, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := oci.ListReferrers(ctx, src, srcDesc, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	push := func(d ocispec.Descriptor, data []byte) {
		t.Helper()
		if err := dst.Push(ctx, d, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			t.Fatal(err)
		}
	}
	for _, d := range list {
		d.MediaType = ocispec.MediaTypeImageManifest
		m, err := oci.FetchManifest(ctx, src, d, oci.DefaultMaxManifestBytes)
		if err != nil || m.ArtifactType != oci.MediaTypeSigstoreBundle {
			continue
		}
		for _, b := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
			data, err := oci.FetchBlob(ctx, src, b, oci.DefaultMaxBlobBytes)
			if err != nil {
				t.Fatal(err)
			}
			push(b, data)
		}
		m.Subject = &ocispec.Descriptor{MediaType: dstDesc.MediaType, Digest: dstDesc.Digest, Size: dstDesc.Size}
		m.Annotations = map[string]string{"replayed": "yes"}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		push(content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data), data)
		return
	}
	t.Fatalf("no Sigstore bundle referrer of %s", from)
}
