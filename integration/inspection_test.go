//go:build integration

package integration_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestInspections: a layout (by referee, Metablock) whose inspection
// unpacks the delivered tarball in the verifier's directory and matches
// it against the chain's links.
//
//   - referee verify without --run-inspections refuses (exit 1) and says
//     how to allow it; with it, passes, as in-toto-verify and
//     in-toto-golang (which always run inspections) do.
//   - A delivered tarball swapped after the package step (the links are
//     untouched and verify) is caught only by the inspection: all three
//     refuse. So is a delivered file that is not a tarball at all (the
//     inspection command fails).
//
// Each verification runs in a fresh copy of the delivery directory: the
// references write NAME.link there, and in-toto-golang, which has no
// default excludes, would record it next time.
func TestInspections(t *testing.T) {
	p := needAll(t)
	tmp := t.TempDir()
	keys, work, links := filepath.Join(tmp, "keys"), filepath.Join(tmp, "work"), filepath.Join(tmp, "links")
	mkdirs(t, keys, work, links)
	owner, alice := filepath.Join(keys, "owner"), filepath.Join(keys, "alice")
	must(t, tmp, refereeBin, "keygen", "--type", "rsa", owner)
	must(t, tmp, refereeBin, "keygen", "--type", "ed25519", alice)

	tarCmd := []string{"tar", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", "foo.tar.gz", "foo.py"}
	layout := filepath.Join(tmp, "root.layout")
	createLayout(t, tmp, "layout", specYAML{
		Functionaries: map[string]string{"alice": alice + ".pub"},
		Steps: []specStep{
			{Name: "write-code", Functionaries: []string{"alice"},
				Products: []string{"CREATE foo.py", "DISALLOW *"}},
			{Name: "package", Command: shellJoin(tarCmd), Functionaries: []string{"alice"},
				Materials: []string{"MATCH foo.py WITH PRODUCTS FROM write-code", "DISALLOW *"},
				Products:  []string{"CREATE foo.tar.gz", "ALLOW foo.py", "DISALLOW *"}},
		},
		Inspections: []specInspection{
			{Name: "untar", Run: "tar xzf foo.tar.gz",
				Materials: []string{"MATCH foo.tar.gz WITH PRODUCTS FROM package", "DISALLOW *"},
				Products: []string{"MATCH foo.py WITH PRODUCTS FROM write-code",
					"MATCH foo.tar.gz WITH PRODUCTS FROM package", "DISALLOW *"}},
		},
	}, layout, true, owner)

	step := func(name string, args ...string) {
		t.Helper()
		base := []string{"run", "-n", name, "-k", alice, "-d", links, "--metablock"}
		must(t, work, refereeBin, append(base, args...)...)
	}
	step("write-code", "-p", "foo.py", "--", "sh", "-c", "echo 'print(1)' > foo.py")
	step("package", append([]string{"-m", "foo.py", "-p", "foo.py", "-p", "foo.tar.gz", "--"}, tarCmd...)...)
	goodTar := readFile(t, filepath.Join(work, "foo.tar.gz"))

	// A tarball of another foo.py, made the same way.
	evil := filepath.Join(tmp, "evil")
	writeFile(t, filepath.Join(evil, "foo.py"), "print('evil')\n")
	must(t, evil, tarCmd[0], tarCmd[1:]...)
	evilTar := readFile(t, filepath.Join(evil, "foo.tar.gz"))

	n := 0
	delivery := func(tarball string) string {
		t.Helper()
		n++
		d := filepath.Join(tmp, "delivery", string(rune('a'+n)))
		writeFile(t, filepath.Join(d, "foo.tar.gz"), tarball)
		return d
	}
	pyVerify := func(tarball string) result {
		return exe(t, delivery(tarball), p.verify, "-l", layout, "-k", owner+".pub", "--link-dir", links)
	}
	goVerify := func(tarball string) result {
		return exe(t, delivery(tarball), p.golang, "verify", "-l", layout, "-k", owner+".pub", "-d", links)
	}
	refVerify := func(tarball string, extra ...string) result {
		d := delivery(tarball)
		args := append([]string{"verify", "--layout", layout, "--layout-key", owner + ".pub", "--link-dir", links}, extra...)
		for i, a := range args {
			if a == "DIR" {
				args[i] = d
			}
		}
		return referee(t, d, args...)
	}

	t.Run("refused-without-run-inspections", func(t *testing.T) {
		r := refVerify(goodTar)
		expectExit(t, r, 1)
		if !strings.Contains(r.out(), "--run-inspections") {
			t.Errorf("referee does not say that --run-inspections is needed:\n%s", r)
		}
	})
	t.Run("honest", func(t *testing.T) {
		expectExit(t, pyVerify(goodTar), 0)
		expectExit(t, goVerify(goodTar), 0)
		expectExit(t, refVerify(goodTar, "--run-inspections", "--inspection-dir", "DIR"), 0)
		// The inspection directory defaults to the working directory.
		expectExit(t, refVerify(goodTar, "--run-inspections"), 0)
	})
	for _, tc := range []struct{ name, tarball, want, refWant string }{
		{"swapped-tarball", evilTar, "foo.tar.gz", `"foo.tar.gz"`},
		// referee should say why the command failed. tar's stderr starts
		// with an empty line (from gzip), and referee reports the first
		// line of stderr, so today it says `"tar" exited with 2: ` and
		// nothing more: this assertion fails until that is fixed.
		{"not-a-tarball", "garbage\n", "tar", "not in gzip format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pyVerify(tc.tarball)
			expectExit(t, r, 1)
			if !strings.Contains(r.out(), tc.want) {
				t.Errorf("in-toto-verify refused for another reason than %s:\n%s", tc.want, r)
			}
			r = goVerify(tc.tarball)
			expectExit(t, r, 1)
			if !strings.Contains(r.out(), tc.want) {
				t.Errorf("in-toto-golang refused for another reason than %s:\n%s", tc.want, r)
			}
			r = refVerify(tc.tarball, "--run-inspections", "--inspection-dir", "DIR")
			expectExit(t, r, 1)
			for _, want := range []string{`FAIL inspection "untar"`, tc.refWant, "NOT VERIFIED"} {
				if !strings.Contains(r.out(), want) {
					t.Errorf("referee verify output does not mention %s:\n%s", want, r)
				}
			}
			for _, ok := range []string{"step write-code: ok", "step package: ok"} {
				if !strings.Contains(r.out(), ok) {
					t.Errorf("referee verify should find the links themselves fine (%s):\n%s", ok, r)
				}
			}
		})
	}
}
