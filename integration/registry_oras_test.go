//go:build integration

package integration_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRegistryOrasDiscoverSeesRefereeArtifacts: what `referee attach`
// pushes is what oras v1.3.6 lists. On each registry, referee attaches a
// Metablock layout and a Metablock link to a crane-pushed OCI image; `oras
// discover --format json IMAGE@DIGEST` lists exactly the two digests
// referee printed, each with referee's artifactType and kind annotation.
//
//   - docker-registry (no referrers API): oras detects the tag schema by
//     itself and lists the same with `--distribution-spec
//     v1.1-referrers-tag`; forcing `v1.1-referrers-api` fails ("failed to
//     query referrers API: unsupported"). The `sha256-<hex>` tag holds an OCI
//     index of exactly the two referrers.
//   - embedded registry: the same through the referrers API, also when
//     forced with `--distribution-spec v1.1-referrers-api`.
//
// `oras discover --artifact-type` keeps only the layout, and attaching the
// same files again prints the same digests and adds nothing.
func TestRegistryOrasDiscoverSeesRefereeArtifacts(t *testing.T) {
	needOras(t)
	c := makeChain(t)
	onRegistries(t, func(t *testing.T, r reg) {
		ref, digest := pushImage(t, r.host, "oras/discover")
		att := referee(t, "", "attach", ref, c.layout, c.link(c.writeLink))
		expectExit(t, att, 0)
		ds := digestLines(t, att, 2)
		want := map[string]string{ds[0]: layoutMetablock, ds[1]: linkMetablock}
		kinds := map[string]string{ds[0]: "layout", ds[1]: "link"}

		image := atDigest(ref, digest)
		modes := [][]string{nil}
		if r.tagSchema() {
			modes = append(modes, []string{"--distribution-spec", "v1.1-referrers-tag"})
		} else {
			modes = append(modes, []string{"--distribution-spec", "v1.1-referrers-api"})
		}
		for _, extra := range modes {
			who := "oras discover " + strings.Join(extra, " ")
			d := orasDiscover(t, image, extra...)
			if d.Digest != digest {
				t.Errorf("%s: subject digest %s, want %s", who, d.Digest, digest)
			}
			expectTypes(t, who, types(t, who, d.Referrers), want)
			for _, e := range d.Referrers {
				if k := e.Annotations["dev.referee.in-toto.kind"]; k != kinds[e.Digest] {
					t.Errorf("%s: %s kind annotation %q, want %q", who, e.Digest, k, kinds[e.Digest])
				}
				if e.MediaType != ociManifest {
					t.Errorf("%s: %s mediaType %q", who, e.Digest, e.MediaType)
				}
			}
		}
		d := orasDiscover(t, image, "--artifact-type", layoutMetablock)
		expectTypes(t, "oras discover --artifact-type", types(t, "oras", d.Referrers),
			map[string]string{ds[0]: layoutMetablock})

		if r.tagSchema() {
			fr := exe(t, "", needOras(t), "discover", "--plain-http", "--format", "json",
				"--distribution-spec", "v1.1-referrers-api", image)
			if fr.code == 0 {
				t.Errorf("oras discover forced to the referrers API on docker-registry succeeded:\n%s", fr)
			}
			entries, ok := fallbackIndex(t, r.host, "oras/discover", digest)
			if !ok {
				t.Fatalf("no %s tag on docker-registry", fallbackTag(digest))
			}
			expectTypes(t, "fallback index", types(t, "fallback index", entries), want)
		}

		again := referee(t, "", "attach", ref, c.layout, c.link(c.writeLink))
		expectExit(t, again, 0)
		if got := digestLines(t, again, 2); got[0] != ds[0] || got[1] != ds[1] {
			t.Errorf("attaching the same files again printed %v, want %v", got, ds)
		}
		expectTypes(t, "oras discover after re-attach", types(t, "oras", orasDiscover(t, image).Referrers), want)
	})
}

// TestRegistryOrasAttachedLinkVerifies: a link made by in-toto-run and
// pushed by `oras attach --artifact-type application/vnd.in-toto+json`
// (oras's manifest: empty config, the link as the one layer, titled
// build.KEYID8.link) is in-toto evidence for referee. On each registry,
// next to referee's layout and write-code link: `referee discover` lists it
// (artifactType from its own manifest) and `--artifact-type` finds it
// alone; `referee pull` writes root.layout and both links, byte for byte;
// `referee verify` and in-toto-verify pass on the pulled directory, and
// fail once the oras-attached link is left out (pulled from an image
// without it).
func TestRegistryOrasAttachedLinkVerifies(t *testing.T) {
	needOras(t)
	c := makeChain(t)
	onRegistries(t, func(t *testing.T, r reg) {
		ref, digest := pushImage(t, r.host, "oras/attach")
		att := referee(t, "", "attach", ref, c.layout, c.link(c.writeLink))
		expectExit(t, att, 0)
		ds := digestLines(t, att, 2)
		od := orasAttach(t, c.links, ref, c.buildLink)
		want := map[string]string{ds[0]: layoutMetablock, ds[1]: linkMetablock, od: inTotoJSON}

		d := refereeDiscover(t, ref)
		if d.Digest != digest {
			t.Errorf("referee discover: digest %s, want %s", d.Digest, digest)
		}
		expectTypes(t, "referee discover", types(t, "referee discover", d.Referrers), want)
		// oras lists the same digests (the types it shows on the embedded
		// registry are the registry's: TestRegistryEmbeddedReferrersSpec).
		sameDigests(t, "oras discover", orasDiscover(t, atDigest(ref, digest)), want)
		only := refereeDiscover(t, ref, "--artifact-type", inTotoJSON)
		expectTypes(t, "referee discover --artifact-type", types(t, "referee", only.Referrers),
			map[string]string{od: inTotoJSON})

		out := filepath.Join(t.TempDir(), "evidence")
		pullInto(t, ref, out, map[string]string{
			"root.layout": c.layout, c.writeLink: c.link(c.writeLink), c.buildLink: c.link(c.buildLink),
		})
		expectExit(t, c.refVerify(t, out), 0)
		expectExit(t, c.pyVerify(t, out), 0)

		// Without the oras-attached link the chain is incomplete.
		ref2, _ := pushImage(t, r.host, "oras/attach-missing")
		expectExit(t, referee(t, "", "attach", ref2, c.layout, c.link(c.writeLink)), 0)
		out2 := filepath.Join(t.TempDir(), "evidence")
		pullInto(t, ref2, out2, map[string]string{"root.layout": c.layout, c.writeLink: c.link(c.writeLink)})
		if rv := c.refVerify(t, out2); rv.code != 1 || !strings.Contains(rv.out(), "build") {
			t.Errorf("referee verify without the build link: want exit 1 naming build, got:\n%s", rv)
		}
		if pv := c.pyVerify(t, out2); pv.code != 1 || !strings.Contains(pv.out(), "build") {
			t.Errorf("in-toto-verify without the build link: want exit 1 naming build, got:\n%s", pv)
		}
	})
}
