//go:build integration

package integration_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegistryDetach: `referee detach IMAGE DIGEST` on docker-registry 2.8
// (tag schema, deletes enabled) and on referee's embedded registry
// (referrers API). Three links are attached with `referee attach`, one is
// detached; then referee discover and oras discover list exactly the other
// two, the detached manifest is gone from the registry and, on
// docker-registry, from the sha256-<hex> index. Detaching again exits 0
// with nothing on stdout. Detaching the image's own digest, or a referrer
// of another image in the same repository (alone or beside a real
// referrer), exits 2 and deletes nothing.
func TestRegistryDetach(t *testing.T) {
	crane := needCrane(t)
	needOras(t)
	onRegistries(t, func(t *testing.T, r reg) {
		files := signedLinks(t, 4)
		// Another image in the same repository, with a referrer of its own.
		otherTag, otherDigest := pushImage(t, r.host, "detach/app")
		other := atDigest(otherTag, otherDigest)
		ref, digest := pushImage(t, r.host, "detach/app")
		if otherDigest == digest {
			t.Fatal("the two images have the same digest")
		}
		att := must(t, "", refereeBin, append([]string{"attach", ref}, files[:3]...)...)
		ds := digestLines(t, att, 3)
		otherReferrer := digestLines(t, must(t, "", refereeBin, "attach", other, files[3]), 1)[0]

		image := atDigest(ref, digest)
		stored := func(d string) bool {
			return exe(t, "", crane, "manifest", "--insecure", atDigest(ref, d)).code == 0
		}
		// listsExactly: referee, oras (as it chooses, and with the
		// registry's own path forced) and, on docker-registry, the
		// fallback index list exactly want.
		listsExactly := func(t *testing.T, when string, want ...string) {
			t.Helper()
			m := map[string]string{}
			for _, d := range want {
				m[d] = ""
			}
			sameDigests(t, "referee discover "+when, refereeDiscover(t, ref), m)
			sameDigests(t, "oras discover "+when, orasDiscover(t, image), m)
			if r.tagSchema() {
				entries, ok := fallbackIndex(t, r.host, "detach/app", digest)
				if !ok && len(want) > 0 { // with none left, no tag is as good as an empty index
					t.Fatalf("%s: no %s tag", when, fallbackTag(digest))
				}
				sameDigests(t, "the sha256-<hex> index "+when, discovery{Referrers: entries}, m)
			} else {
				sameDigests(t, "oras discover (referrers API) "+when,
					orasDiscover(t, image, "--distribution-spec", "v1.1-referrers-api"), m)
			}
		}
		listsExactly(t, "after attaching 3", ds...)

		det := must(t, "", refereeBin, "detach", ref, ds[1])
		if got := strings.TrimSpace(det.stdout); got != ds[1] {
			t.Errorf("referee detach printed %q, want the detached digest %s\n%s", got, ds[1], det)
		}
		listsExactly(t, "after detaching one", ds[0], ds[2])
		if stored(ds[1]) {
			t.Errorf("the detached manifest %s is still in the registry", ds[1])
		}

		again := referee(t, "", "detach", ref, ds[1])
		expectExit(t, again, 0)
		if again.stdout != "" {
			t.Errorf("detaching again printed on stdout:\n%s", again)
		}
		if !strings.Contains(again.stderr, "not attached") {
			t.Errorf("detaching again does not say it was not attached:\n%s", again)
		}

		for _, tc := range []struct {
			name    string
			digests []string
			want    string // in stderr
		}{
			{"the image itself", []string{digest}, digest},
			{"another image's referrer", []string{otherReferrer}, otherReferrer},
			{"a referrer and another image's referrer", []string{ds[0], otherReferrer}, otherReferrer},
			{"another image", []string{otherDigest}, otherDigest},
		} {
			t.Run("refuses "+tc.name, func(t *testing.T) {
				res := referee(t, "", append([]string{"detach", ref}, tc.digests...)...)
				expectExit(t, res, 2)
				if res.stdout != "" {
					t.Errorf("a refused detach printed on stdout:\n%s", res)
				}
				if !strings.Contains(res.stderr, tc.want) || !strings.Contains(res.stderr, "not a referrer") {
					t.Errorf("stderr does not say %s is not a referrer of the image:\n%s", tc.want, res)
				}
				listsExactly(t, "after a refused detach", ds[0], ds[2])
				sameDigests(t, "referee discover of the other image", refereeDiscover(t, other), map[string]string{otherReferrer: ""})
				for _, d := range []string{digest, otherDigest, otherReferrer, ds[0], ds[2]} {
					if !stored(d) {
						t.Errorf("a refused detach deleted %s", d)
					}
				}
			})
		}

		// Detach the rest in one command: both digests printed, nothing
		// listed afterwards, the image still there.
		all := must(t, "", refereeBin, "detach", image, ds[0], ds[2])
		if got := strings.Fields(all.stdout); len(got) != 2 || got[0] != ds[0] || got[1] != ds[2] {
			t.Errorf("referee detach of two printed %q, want %s and %s", all.stdout, ds[0], ds[2])
		}
		listsExactly(t, "after detaching all")
		if !stored(digest) {
			t.Error("detaching every referrer deleted the image")
		}
	})
}

// signedLinks signs n links with a new ed25519 key (`referee run`, steps
// step-1 … step-n, each a different command so the links differ) and
// returns their paths.
func signedLinks(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "alice")
	must(t, dir, refereeBin, "keygen", "--type", "ed25519", key)
	var files []string
	for i := 1; i <= n; i++ {
		r := must(t, dir, refereeBin, "run", "--step-name", fmt.Sprintf("step-%d", i), "--key", key,
			"--out", dir, "--", "echo", fmt.Sprint(i))
		files = append(files, strings.TrimSpace(r.stdout))
	}
	return files
}
