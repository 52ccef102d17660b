//go:build integration

package integration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegistryCopyKeepsReferrers: an image on docker-registry (tag schema)
// with three referrers (referee's Metablock layout and write-code link, and
// the in-toto-run build link attached by oras) is copied by crane v0.22.1
// and by referee; `referee discover` shows what arrived.
//
// crane v0.22.1 (documented by the assertions):
//   - `crane copy SRC:v1 DST:v1` copies the image only: no referrers, no
//     sha256-<hex> tag (crane has no referrers option).
//   - `crane copy SRC:sha256-<hex> DST:sha256-<hex>` after the image copies
//     the fallback index and the referrer manifests it lists (with their
//     blobs): every referrer arrives. (Pushing each referrer manifest,
//     crane itself rewrites DST's sha256-<hex> index, as ggcr's remote.Write
//     maintains the tag schema where no OCI-Subject header comes back; the
//     copied index then overwrites it.)
//   - `crane copy --all-tags SRC DST` (repositories) copies v1 and the
//     fallback tag: every referrer arrives, on docker-registry and on the
//     embedded registry (where the referrers API indexes the copied
//     manifests by their subject, so oras discover with the API forced
//     lists them too).
//
// referee copy from docker-registry to the embedded registry, to an OCI
// layout directory, and from there back to another docker-registry
// repository keeps all three referrers with the same digests; what is
// pulled from each copy verifies with referee verify and in-toto-verify.
func TestRegistryCopyKeepsReferrers(t *testing.T) {
	crane := needCrane(t)
	needOras(t)
	c := makeChain(t)
	src := startRegistry(t, "docker-registry")
	emb := startRegistry(t, "embedded")

	ref, digest := pushImage(t, src.host, "copy/src")
	att := referee(t, "", "attach", ref, c.layout, c.link(c.writeLink))
	expectExit(t, att, 0)
	ds := digestLines(t, att, 2)
	od := orasAttach(t, c.links, ref, c.buildLink)
	want := map[string]string{ds[0]: layoutMetablock, ds[1]: linkMetablock, od: inTotoJSON}
	evidence := map[string]string{"root.layout": c.layout, c.writeLink: c.link(c.writeLink), c.buildLink: c.link(c.buildLink)}
	expectTypes(t, "source", types(t, "source", refereeDiscover(t, ref).Referrers), want)
	fb := fallbackTag(digest)

	// checkCopy: the image at dst has the same digest and all referrers,
	// and its evidence verifies.
	checkCopy := func(t *testing.T, who, dst string) {
		t.Helper()
		d := refereeDiscover(t, dst)
		if d.Digest != digest {
			t.Errorf("%s: image digest %s, want %s", who, d.Digest, digest)
		}
		expectTypes(t, who, types(t, who, d.Referrers), want)
		out := filepath.Join(t.TempDir(), "evidence")
		pullInto(t, dst, out, evidence)
		expectExit(t, c.refVerify(t, out), 0)
		expectExit(t, c.pyVerify(t, out), 0)
	}
	tags := func(repo string) map[string]bool {
		m := map[string]bool{}
		for _, tg := range strings.Fields(must(t, "", crane, "ls", "--insecure", repo).stdout) {
			m[tg] = true
		}
		return m
	}

	t.Run("crane copy image only", func(t *testing.T) {
		dst := src.host + "/copy/crane-image:v1"
		must(t, "", crane, "copy", "--insecure", ref, dst)
		if d := refereeDiscover(t, dst); len(d.Referrers) != 0 || d.Digest != digest {
			t.Errorf("crane copy of the image alone: digest %s, referrers %v; want %s and none", d.Digest, d.Referrers, digest)
		}
		if tg := tags(src.host + "/copy/crane-image"); tg[fb] || len(tg) != 1 {
			t.Errorf("crane copy of the image alone left tags %v", tg)
		}
	})
	t.Run("crane copy image then fallback tag", func(t *testing.T) {
		dst := src.host + "/copy/crane-fallback"
		must(t, "", crane, "copy", "--insecure", ref, dst+":v1")
		must(t, "", crane, "copy", "--insecure", src.host+"/copy/src:"+fb, dst+":"+fb)
		checkCopy(t, "crane copy of the fallback tag", dst+":v1")
	})
	t.Run("crane copy --all-tags to docker-registry", func(t *testing.T) {
		dst := src.host + "/copy/crane-all"
		must(t, "", crane, "copy", "--insecure", "--all-tags", src.host+"/copy/src", dst)
		if tg := tags(dst); !tg["v1"] || !tg[fb] {
			t.Errorf("crane copy --all-tags: tags %v, want v1 and %s", tg, fb)
		}
		checkCopy(t, "crane copy --all-tags", dst+":v1")
	})
	t.Run("crane copy --all-tags to embedded", func(t *testing.T) {
		dst := emb.host + "/copy/crane-all"
		must(t, "", crane, "copy", "--insecure", "--all-tags", src.host+"/copy/src", dst)
		checkCopy(t, "crane copy --all-tags to the embedded registry", dst+":v1")
		sameDigests(t, "oras discover (referrers API) after crane copy --all-tags",
			orasDiscover(t, atDigest(dst+":v1", digest), "--distribution-spec", "v1.1-referrers-api"), want)
	})
	t.Run("referee copy to embedded", func(t *testing.T) {
		dst := emb.host + "/copy/referee:v1"
		r := must(t, "", refereeBin, "copy", ref, dst)
		if got := strings.Fields(r.stdout); len(got) != 1 || got[0] != digest {
			t.Errorf("referee copy printed %q, want %s", r.stdout, digest)
		}
		checkCopy(t, "referee copy to the embedded registry", dst)
		sameDigests(t, "oras discover (referrers API) after referee copy",
			orasDiscover(t, atDigest(dst, digest), "--distribution-spec", "v1.1-referrers-api"), want)
	})
	t.Run("referee copy to oci-layout and back", func(t *testing.T) {
		airgap := filepath.Join(t.TempDir(), "airgap")
		layoutRef := "oci-layout:" + airgap + ":v1"
		r := must(t, "", refereeBin, "copy", ref, layoutRef)
		if got := strings.Fields(r.stdout); len(got) != 1 || got[0] != digest {
			t.Errorf("referee copy to an OCI layout printed %q, want %s", r.stdout, digest)
		}
		// Only what the OCI image layout spec puts there: no ingest/
		// directory left by the copy.
		files, err := os.ReadDir(airgap)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range files {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != "blobs index.json oci-layout" {
			t.Errorf("the OCI layout holds %v, want blobs, index.json and oci-layout", names)
		}
		checkCopy(t, "referee copy to an OCI layout", layoutRef)
		back := src.host + "/copy/from-layout:v1"
		r = must(t, "", refereeBin, "copy", layoutRef, back)
		if got := strings.Fields(r.stdout); len(got) != 1 || got[0] != digest {
			t.Errorf("referee copy from an OCI layout printed %q, want %s", r.stdout, digest)
		}
		// Copying again into the existing layout adds nothing and leaves no ingest/.
		must(t, "", refereeBin, "copy", ref, layoutRef)
		if _, err := os.Stat(filepath.Join(airgap, "ingest")); !os.IsNotExist(err) {
			t.Errorf("a second copy to the OCI layout left %s (%v)", filepath.Join(airgap, "ingest"), err)
		}
		checkCopy(t, "referee copy from the OCI layout to docker-registry", back)
		entries, ok := fallbackIndex(t, src.host, "copy/from-layout", digest)
		if !ok {
			t.Fatalf("no %s tag after referee copy to docker-registry", fb)
		}
		expectTypes(t, "fallback index after referee copy", types(t, "fallback index", entries), want)
	})
}
