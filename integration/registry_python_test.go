//go:build integration

package integration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegistryPullInTotoVerify: evidence that went through a registry is
// what in-toto-verify (the Python reference) verifies. On each registry:
// `referee layout create --metablock --attach` signs and attaches the
// layout (RSA owner key), `referee run --metablock --attach` records and
// attaches write-code, in-toto-run records build and `referee attach`
// attaches its link; `referee pull` writes root.layout and the two links
// (each printed digest is a referrer, each pulled file equals the local
// one); in-toto-verify and referee verify pass on the pulled directory.
// Then build is re-run by in-toto-run on a tampered src/foo.py and its link
// attached, with the same layout and write-code link, to a second image:
// pulled from there, in-toto-verify and referee verify both refuse, naming
// src/foo.py.
func TestRegistryPullInTotoVerify(t *testing.T) {
	c := makeChain(t)
	onRegistries(t, func(t *testing.T, r reg) {
		ref, _ := pushImage(t, r.host, "python/app")
		tmp := t.TempDir()
		work, links := filepath.Join(tmp, "work"), filepath.Join(tmp, "links")
		mkdirs(t, work, links)
		layout := filepath.Join(tmp, "root.layout")

		lc := referee(t, c.dir, "layout", "create", "--spec", filepath.Join(c.dir, "layout.yaml"),
			"--key", c.key("owner"), "--metablock", "--out", layout, "--attach", ref)
		expectExit(t, lc, 0)
		attached := digestLines(t, lc, 1)
		rr := referee(t, work, append([]string{"run", "--step-name", "write-code", "--key", c.key("alice"),
			"--out", links, "--metablock", "--products", "src", "--attach", ref, "--"}, chainCommands["write-code"]...)...)
		expectExit(t, rr, 0)
		attached = append(attached, digestLines(t, rr, 1)...)
		must(t, work, c.p.run, append([]string{"-n", "build", "-k", c.key("bob"), "-d", links,
			"-m", "src", "-p", "src", "foo.tar.gz", "--"}, chainCommands["build"]...)...)
		files := map[string]string{"root.layout": layout}
		for _, l := range linkFiles(t, links) {
			files[filepath.Base(l)] = l
		}
		if len(files) != 3 {
			t.Fatalf("want a layout and 2 links, have %v", files)
		}
		var buildLink, writeLink string
		for n := range files {
			switch {
			case strings.HasPrefix(n, "build."):
				buildLink = filepath.Join(links, n)
			case strings.HasPrefix(n, "write-code."):
				writeLink = filepath.Join(links, n)
			}
		}
		ba := referee(t, "", "attach", ref, buildLink)
		expectExit(t, ba, 0)
		attached = append(attached, digestLines(t, ba, 1)...)
		want := map[string]string{attached[0]: layoutMetablock, attached[1]: linkMetablock, attached[2]: linkMetablock}
		expectTypes(t, "referee discover", types(t, "referee discover", refereeDiscover(t, ref).Referrers), want)

		out := filepath.Join(tmp, "pulled")
		pullInto(t, ref, out, files)
		expectExit(t, c.pyVerify(t, out), 0)
		expectExit(t, c.refVerify(t, out), 0)

		// Tampered source, build re-run on it: refused after the registry too.
		bad := filepath.Join(tmp, "bad-links")
		mkdirs(t, bad)
		writeFile(t, filepath.Join(work, "src", "foo.py"), "print('evil')\n")
		if err := os.Remove(filepath.Join(work, "foo.tar.gz")); err != nil {
			t.Fatal(err)
		}
		must(t, work, c.p.run, append([]string{"-n", "build", "-k", c.key("bob"), "-d", bad,
			"-m", "src", "-p", "src", "foo.tar.gz", "--"}, chainCommands["build"]...)...)
		badBuild := linkFiles(t, bad)
		if len(badBuild) != 1 {
			t.Fatalf("in-toto-run wrote %v", badBuild)
		}
		ref2, _ := pushImage(t, r.host, "python/tampered")
		expectExit(t, referee(t, "", "attach", ref2, layout, writeLink, badBuild[0]), 0)
		out2 := filepath.Join(tmp, "pulled-tampered")
		pullInto(t, ref2, out2, map[string]string{"root.layout": layout, filepath.Base(writeLink): writeLink,
			filepath.Base(badBuild[0]): badBuild[0]})
		if pv := c.pyVerify(t, out2); pv.code != 1 || !strings.Contains(pv.out(), "src/foo.py") {
			t.Errorf("in-toto-verify on the tampered chain: want exit 1 naming src/foo.py, got:\n%s", pv)
		}
		if rv := c.refVerify(t, out2); rv.code != 1 || !strings.Contains(rv.out(), "src/foo.py") {
			t.Errorf("referee verify on the tampered chain: want exit 1 naming src/foo.py, got:\n%s", rv)
		}
	})
}
