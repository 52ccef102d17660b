//go:build integration

package integration_test

// A layout whose inspection is a native check over cosign's attestations
// (referee check --attestation T --signed-by scanner --cel …, scanner
// being a cosign public key among the functionaries) verifies images from
// the registry alone, on referee's embedded registry (referrers API) and
// docker-registry 2.8 (referrers tag schema), with the attestations the
// real cosign v2.6.5 writes: legacy (.att tag) and --new-bundle-format
// (Sigstore bundle referrer). A clean predicate passes and promotes (the
// bundle going along); a bad one, one signed by another cosign key and
// one about another image are refused, naming the inspection.

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/oci"
)

// cosignInspection is the inspection of the layout of
// TestCosignLayoutInspection.
const cosignInspection = "no-critical-vulns"

// cosignAttestPredicate is cosign attest of predicate (a file) as
// cosignVulnType onto image (HOST/REPO@DIGEST) with the key of keyDir (a
// dir of cosignKeys).
func cosignAttestPredicate(t *testing.T, cosign, keyDir, predicate, image string, bundle bool) {
	t.Helper()
	args := []string{"attest", "--yes", "--key", filepath.Join(keyDir, "cosign.key"), "--type", cosignVulnType,
		"--predicate", predicate, "--tlog-upload=false", "--allow-insecure-registry"}
	if bundle {
		args = append(args, "--new-bundle-format")
	}
	r := exeIO(t, runIO{dir: keyDir, env: cosignEnv(t)}, cosign, append(args, image)...)
	if r.code != 0 {
		t.Fatalf("cosign attest:\n%s", r)
	}
}

func TestCosignLayoutInspection(t *testing.T) {
	cosign := tool(t, "cosign")
	crane := needCrane(t)
	dir := t.TempDir()
	cosignKeys(t, cosign, dir) // dir/key: the scanner's; dir/other: someone else's
	for _, k := range []string{"owner", "builder", "promoter"} {
		if r := referee(t, dir, "keygen", "--type", "ed25519", filepath.Join(dir, k)); r.code != 0 {
			t.Fatalf("referee keygen:\n%s", r)
		}
	}
	clean, critical := filepath.Join(dir, "clean", "vuln.json"), filepath.Join(dir, "critical", "vuln.json")
	writeFile(t, clean, `{"scanner":"grype","critical":0,"high":1}`)
	writeFile(t, critical, `{"scanner":"grype","critical":2,"high":0}`)

	// push binds the image; the scan is cosign's attestation, checked by
	// the inspection with no command run.
	spec := specYAML{
		Functionaries: map[string]string{"builder": filepath.Join(dir, "builder.pub"), "scanner": filepath.Join(dir, "key", "cosign.pub")},
		Steps: []specStep{{Name: "push", Functionaries: []string{"builder"},
			Products: []string{"CREATE referee:image-manifest", "DISALLOW *"}}},
		Inspections: []specInspection{{Name: cosignInspection,
			Run: "referee check --attestation " + cosignVulnType + " --signed-by scanner --cel 'input.critical == 0'"}},
	}
	layout := filepath.Join(dir, "root.layout")
	createLayout(t, dir, "layout", spec, layout, false, filepath.Join(dir, "owner"))
	scannerID := refereeKeyID(t, filepath.Join(dir, "key", "cosign.pub"))
	if show := must(t, dir, refereeBin, "layout", "show", layout).out(); !strings.Contains(show, scannerID) {
		t.Errorf("the layout does not name the scanner's cosign key %s:\n%s", scannerID, show)
	}

	onRegistries(t, func(t *testing.T, r reg) {
		start := time.Now()
		// image pushes one image into its own repository, records and
		// attaches the push step's link bound to it, attaches the layout,
		// and returns HOST/REPO@DIGEST and the digest.
		image := func(t *testing.T, repo string) (string, string) {
			t.Helper()
			ref, digest := pushImage(t, r.host, repo)
			img := atDigest(ref, digest)
			links := filepath.Join(dir, r.kind, repo)
			if rr := referee(t, dir, "run", "--step-name", "push", "--key", filepath.Join(dir, "builder"), "--out", links,
				"--attach", img, "--bind-image", "--", "true"); rr.code != 0 {
				t.Fatalf("referee run:\n%s", rr)
			}
			must(t, dir, refereeBin, "attach", img, layout)
			return img, digest
		}
		verify := func(t *testing.T, img string) result {
			t.Helper()
			return referee(t, t.TempDir(), "verify", img, "--layout-key", filepath.Join(dir, "owner.pub"))
		}
		// refused: exit 1 (never 2), the inspection named, and why.
		refused := func(t *testing.T, what, img, why string) {
			t.Helper()
			v := verify(t, img)
			if v.code != 1 || !strings.Contains(v.out(), cosignInspection) || !strings.Contains(v.out(), why) {
				t.Errorf("%s: want exit 1 naming inspection %s and %q:\n%s", what, cosignInspection, why, v)
			}
		}

		for _, form := range []struct {
			name   string
			bundle bool
			read   string // the form verify says it read
		}{{"legacy", false, oci.AttestationFormCosign}, {"bundle", true, oci.AttestationFormCosignBundle}} {
			t.Run(form.name, func(t *testing.T) {
				p := form.name + "-"
				good, goodDigest := image(t, p+"clean")
				bad, _ := image(t, p+"critical")
				other, _ := image(t, p+"other-key")
				replay, replayDigest := image(t, p+"replay")
				cosignAttestPredicate(t, cosign, filepath.Join(dir, "key"), clean, good, form.bundle)
				cosignAttestPredicate(t, cosign, filepath.Join(dir, "key"), critical, bad, form.bundle)
				cosignAttestPredicate(t, cosign, filepath.Join(dir, "other"), clean, other, form.bundle)
				// The clean image's attestation put onto replay: a copy of
				// its .att tag, or a referrer of replay holding its bundle.
				if form.bundle {
					repushBundle(t, t.Context(), good, replay)
				} else {
					must(t, "", crane, "copy", "--insecure", r.host+"/"+p+"clean:"+oci.CosignAttestationTag(goodDigest),
						r.host+"/"+p+"replay:"+oci.CosignAttestationTag(replayDigest))
				}

				if v := verify(t, good); v.code != 0 || !strings.Contains(v.out(), "inspection "+cosignInspection+": ok") ||
					!strings.Contains(v.out(), "("+form.read+"): passed") {
					t.Errorf("clean predicate: want exit 0, the check passed over a %s attestation:\n%s", form.read, v)
				}
				refused(t, "critical 2", bad, "input.critical is 2")
				// cosign's signatures carry no keyid, so the scanner's key is
				// tried on the other key's signature and fails; the reason
				// referee gives (a warning: the statement is not read) says it is not signed by that key.
				refused(t, "signed by another cosign key", other, "layer 0: not signed by key")
				refused(t, "about another image", replay, "about another image")

				// promote: the clean image, with its evidence; a bundle is
				// a referrer and goes along.
				dst := r.host + "/prod/" + p + "clean"
				pr := referee(t, dir, "promote", good, dst, "--layout-key", filepath.Join(dir, "owner.pub"), "--key", filepath.Join(dir, "promoter"))
				if pr.code != 0 || strings.TrimSpace(pr.stdout) != goodDigest {
					t.Fatalf("referee promote: want exit 0 and %s:\n%s", goodDigest, pr)
				}
				srcTypes, dstTypes := referrerTypes(t, good), referrerTypes(t, atDigest(dst, goodDigest))
				var bundles []string
				for d, at := range srcTypes {
					if at == oci.MediaTypeSigstoreBundle {
						bundles = append(bundles, d)
					}
				}
				if form.bundle && len(bundles) != 1 {
					t.Errorf("the clean image has %d Sigstore bundle referrers, want 1: %v", len(bundles), srcTypes)
				}
				for _, d := range bundles {
					if _, ok := dstTypes[d]; !ok {
						t.Errorf("the bundle referrer %s was not copied by promote; the destination has %v", d, dstTypes)
					}
				}
				if vs := referee(t, t.TempDir(), "verify", atDigest(dst, goodDigest), "--vsa-key", filepath.Join(dir, "promoter.pub")); vs.code != 0 {
					t.Errorf("the promoted copy does not verify by its summary:\n%s", vs)
				}
				// The promoted copy verifies by the layout again: the
				// attestation the check counted went along (the bundle
				// referrer, or its layer of the legacy .att tag, copied to
				// the destination's tag of the same name).
				if v := verify(t, atDigest(dst, goodDigest)); v.code != 0 || !strings.Contains(v.out(), "inspection "+cosignInspection+": ok") ||
					!strings.Contains(v.out(), "("+form.read+"): passed") {
					t.Errorf("the promoted copy does not verify by the layout, over a %s attestation:\n%s", form.read, v)
				}
			})
		}
		t.Logf("%s: %s", r.kind, time.Since(start).Round(time.Millisecond))
	})
}

// referrerTypes maps the digest of each referrer of img (the whole graph,
// as referee discover shows it) to its artifact type.
func referrerTypes(t *testing.T, img string) map[string]string {
	t.Helper()
	m := map[string]string{}
	var walk func(rs []referrer)
	walk = func(rs []referrer) {
		for _, r := range rs {
			m[r.Digest] = r.ArtifactType
			walk(r.Referrers)
		}
	}
	walk(refereeDiscover(t, img).Referrers)
	return m
}
