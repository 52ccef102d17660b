//go:build integration

package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// files is a directory's content: path -> file content.
type files map[string]string

// ruleCase is a two-step supply chain: step "one" has no rules and
// records oneM as materials and oneP as products; step "two" records twoM
// and twoP and is checked by the rules under test.
type ruleCase struct {
	name                string
	oneM, oneP          files
	twoM, twoP          files
	materials, products []string // step two's rules
	python, golang      bool     // observed verdicts (true = verifies)
	note                string   // why the references disagree, if they do
}

// ruleCases: the Python reference's verdict is the specification's
// (in-toto-spec v1.0 names it the reference implementation), so referee
// must decide as `python` says. Both verdicts were observed by running
// in-toto-verify 1.3.1 and in-toto-golang v0.11.0 verify on exactly these
// files, and TestArtifactRules re-checks them live.
var ruleCases = []ruleCase{
	{name: "match-same-hash",
		oneP: files{"foo": "1"}, twoM: files{"foo": "1"},
		materials: []string{"MATCH foo WITH PRODUCTS FROM one", "DISALLOW *"}, python: true, golang: true},
	{name: "match-differing-hash-then-disallow",
		oneP: files{"foo": "1"}, twoM: files{"foo": "2"},
		materials: []string{"MATCH foo WITH PRODUCTS FROM one", "DISALLOW *"}, python: false, golang: false},
	{name: "match-differing-hash-unconsumed-allowed",
		oneP: files{"foo": "1"}, twoM: files{"foo": "2"},
		materials: []string{"MATCH foo WITH PRODUCTS FROM one"}, python: true, golang: true},
	{name: "match-missing-in-destination",
		oneP: files{}, twoM: files{"foo": "1"},
		materials: []string{"MATCH foo WITH PRODUCTS FROM one", "DISALLOW *"}, python: false, golang: false},
	{name: "match-star-one-of-two-differs",
		oneP: files{"a": "1", "b": "1"}, twoM: files{"a": "1", "b": "2"},
		materials: []string{"MATCH * WITH PRODUCTS FROM one", "DISALLOW *"}, python: false, golang: false},
	{name: "match-with-materials",
		oneM: files{"foo": "1"}, twoM: files{"foo": "1"},
		materials: []string{"MATCH foo WITH MATERIALS FROM one", "DISALLOW *"}, python: true, golang: true},
	{name: "match-in-source-prefix",
		oneP: files{"foo": "1"}, twoM: files{"build/foo": "1"},
		materials: []string{"MATCH * IN build WITH PRODUCTS FROM one", "DISALLOW *"}, python: true, golang: true},
	{name: "match-in-source-prefix-trailing-slash",
		oneP: files{"foo": "1"}, twoM: files{"build/foo": "1"},
		materials: []string{"MATCH * IN build/ WITH PRODUCTS FROM one", "DISALLOW *"}, python: true, golang: true},
	{name: "match-in-destination-prefix",
		oneP: files{"src/foo": "1"}, twoM: files{"foo": "1"},
		materials: []string{"MATCH foo WITH PRODUCTS IN src FROM one", "DISALLOW *"}, python: true, golang: true},
	{name: "match-in-both-prefixes",
		oneP: files{"b/x": "1"}, twoM: files{"a/x": "1"},
		materials: []string{"MATCH x IN a WITH PRODUCTS IN b FROM one", "DISALLOW *"}, python: true, golang: true},
	{name: "match-in-destination-prefix-glob-leaves-rest",
		oneP: files{"src/a.py": "1", "src/b.txt": "1"}, twoM: files{"a.py": "1", "b.txt": "1"},
		materials: []string{"MATCH *.py WITH PRODUCTS IN src FROM one", "DISALLOW *"}, python: false, golang: false},
	{name: "match-in-source-prefix-path-outside-prefix",
		oneP: files{"foo": "1"}, twoM: files{"foo": "1"},
		materials: []string{"MATCH foo IN build WITH PRODUCTS FROM one", "DISALLOW *"}, python: false, golang: true,
		note: "Go TrimPrefix()es the source prefix, so a path outside it is matched under its full name; Python skips it"},
	{name: "allow-then-disallow-leftover",
		twoP:     files{"foo": "1", "bar": "1"},
		products: []string{"ALLOW foo", "DISALLOW *"}, python: false, golang: false},
	{name: "allow-star-then-disallow-star",
		twoP:     files{"foo": "1", "d/bar": "1"},
		products: []string{"ALLOW *", "DISALLOW *"}, python: true, golang: true},
	{name: "disallow-matching-nothing",
		twoP:     files{"foo": "1"},
		products: []string{"DISALLOW bar"}, python: true, golang: true},
	{name: "unconsumed-artifacts-without-rules",
		twoM: files{"x": "1"}, twoP: files{"y": "1"}, python: true, golang: true},
	{name: "require-present",
		twoP:     files{"foo": "1"},
		products: []string{"REQUIRE foo"}, python: true, golang: true},
	{name: "require-absent",
		twoP:     files{"bar": "1"},
		products: []string{"REQUIRE foo"}, python: false, golang: false},
	{name: "require-after-consumed",
		twoP:     files{"foo": "1"},
		products: []string{"ALLOW foo", "REQUIRE foo"}, python: false, golang: false},
	{name: "require-is-literal-not-pattern",
		twoP:     files{"foo.c": "1"},
		products: []string{"REQUIRE *.c"}, python: false, golang: false},
	{name: "create-new",
		twoP:     files{"new": "1"},
		products: []string{"CREATE new", "DISALLOW *"}, python: true, golang: true},
	{name: "create-but-was-a-material",
		twoM: files{"new": "1"}, twoP: files{"new": "1"},
		products: []string{"CREATE new", "DISALLOW *"}, python: false, golang: false},
	{name: "delete-gone",
		twoM:      files{"old": "1"},
		materials: []string{"DELETE old", "DISALLOW *"}, python: true, golang: true},
	{name: "delete-but-still-a-product",
		twoM: files{"old": "1"}, twoP: files{"old": "1"},
		materials: []string{"DELETE old", "DISALLOW *"}, python: false, golang: false},
	{name: "modify-changed",
		twoM: files{"f": "1"}, twoP: files{"f": "2"},
		products: []string{"MODIFY f", "DISALLOW *"}, python: true, golang: true},
	{name: "modify-unchanged",
		twoM: files{"f": "1"}, twoP: files{"f": "1"},
		products: []string{"MODIFY f", "DISALLOW *"}, python: false, golang: false},
	{name: "star-crosses-slash",
		twoP:     files{"dir/sub/file.txt": "1"},
		products: []string{"ALLOW *.txt", "DISALLOW *"}, python: true, golang: true},
	{name: "dir-star-crosses-slash",
		twoP:     files{"dir/sub/file": "1"},
		products: []string{"ALLOW dir/*", "DISALLOW *"}, python: true, golang: true},
	{name: "question-mark-matches-slash",
		twoP:     files{"a/b": "1"},
		products: []string{"ALLOW a?b", "DISALLOW *"}, python: true, golang: true},
	{name: "star-matches-dotfiles",
		twoP:     files{".hidden": "1", "d/.x": "1"},
		products: []string{"ALLOW *", "DISALLOW *"}, python: true, golang: true},
	{name: "bang-class-negates",
		twoP:     files{"b.c": "1"},
		products: []string{"ALLOW [!a].c", "DISALLOW *"}, python: true, golang: true},
	{name: "bang-class-excludes",
		twoP:     files{"a.c": "1"},
		products: []string{"ALLOW [!a].c", "DISALLOW *"}, python: false, golang: false},
	{name: "caret-class-is-literal-other-file",
		twoP:     files{"b.c": "1"},
		products: []string{"ALLOW [^a].c", "DISALLOW *"}, python: false, golang: false},
	{name: "caret-class-is-literal-caret-file",
		twoP:     files{"^.c": "1"},
		products: []string{"ALLOW [^a].c", "DISALLOW *"}, python: true, golang: true,
		note: "agree: both read [^a] as the set {^, a}, not as a negation"},
	{name: "class-range",
		twoP:     files{"b.txt": "1", "d.txt": "1"},
		products: []string{"ALLOW [a-c].txt", "DISALLOW *"}, python: false, golang: false},
	{name: "class-close-bracket-first",
		twoP:     files{"].c": "1"},
		products: []string{"ALLOW []a].c", "DISALLOW *"}, python: true, golang: false,
		note: "Go's path.Match: '[]a]' is a syntax error (no match, WARNING); Python: ']' first in a class is literal"},
	{name: "create-star-consumes-only-new",
		twoM: files{"a": "1"}, twoP: files{"a": "1", "b": "1"},
		products: []string{"CREATE *", "DISALLOW *"}, python: false, golang: false},
	{name: "delete-star-consumes-only-gone",
		twoM: files{"a": "1", "b": "1"}, twoP: files{"a": "1"},
		materials: []string{"DELETE *", "DISALLOW *"}, python: false, golang: false},
	{name: "modify-new-file",
		twoP:     files{"f": "1"},
		products: []string{"MODIFY f", "DISALLOW *"}, python: false, golang: false},
	{name: "case-sensitive",
		twoP:     files{"FOO": "1"},
		products: []string{"ALLOW foo", "DISALLOW *"}, python: false, golang: false},
	{name: "backslash-is-literal",
		twoP:     files{"foo*": "1"},
		products: []string{`ALLOW foo\*`, "DISALLOW *"}, python: false, golang: true,
		note: `Go's path.Match reads \ as an escape (foo\* = the name "foo*"); Python's fnmatch as a literal backslash`},
	{name: "unterminated-bracket-is-literal",
		twoP:     files{"[ab": "1"},
		products: []string{"ALLOW [ab", "DISALLOW *"}, python: true, golang: false,
		note: "Go's path.Match: syntax error, so no match (with a warning); Python: a literal '['"},
}

// setDir makes dir hold exactly fs.
func setDir(t *testing.T, dir string, fs files) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, dir)
	for p, c := range fs {
		writeFile(t, filepath.Join(dir, p), c)
	}
}

// TestArtifactRules runs every ruleCase through in-toto-verify,
// in-toto-golang verify and referee verify on the same files (keys and a
// Metablock layout from referee, links from `referee record --metablock`),
// and checks that each reference decides as recorded and that referee
// decides as the Python reference.
func TestArtifactRules(t *testing.T) {
	p := needAll(t)
	keys := t.TempDir()
	owner, fn := filepath.Join(keys, "owner"), filepath.Join(keys, "fn")
	must(t, keys, refereeBin, "keygen", "--type", "rsa", owner)
	must(t, keys, refereeBin, "keygen", "--type", "ed25519", fn)

	type verdicts struct{ py, gol, ref bool }
	got := make([]verdicts, len(ruleCases))
	t.Run("cases", func(t *testing.T) {
		for i, c := range ruleCases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				work, links := filepath.Join(dir, "work"), filepath.Join(dir, "links")
				mkdirs(t, links)
				layout := filepath.Join(dir, "root.layout")
				spec := specYAML{
					Functionaries: map[string]string{"fn": fn + ".pub"},
					Steps: []specStep{
						{Name: "one", Functionaries: []string{"fn"}},
						{Name: "two", Functionaries: []string{"fn"}, Materials: c.materials, Products: c.products},
					},
				}
				createLayout(t, dir, "layout", spec, layout, true, owner)
				for _, st := range []struct {
					name  string
					m, pr files
				}{{"one", c.oneM, c.oneP}, {"two", c.twoM, c.twoP}} {
					setDir(t, work, st.m)
					must(t, work, refereeBin, "record", "start", "-n", st.name, "-k", fn, "-d", links, "--metablock", "-m", ".")
					setDir(t, work, st.pr)
					must(t, work, refereeBin, "record", "stop", "-n", st.name, "-k", fn, "-d", links, "--metablock", "-p", ".")
				}
				checkRecorded(t, links, c)

				decide := func(who string, r result) bool {
					t.Helper()
					if r.code != 0 && r.code != 1 {
						t.Errorf("%s: exit %d (neither verified nor refused):\n%s", who, r.code, r)
					}
					return r.code == 0
				}
				pr := exe(t, dir, p.verify, "-l", layout, "-k", owner+".pub", "--link-dir", links)
				gr := exe(t, dir, p.golang, "verify", "-l", layout, "-k", owner+".pub", "-d", links)
				rr := referee(t, dir, "verify", "--layout", layout, "--layout-key", owner+".pub", "--link-dir", links)
				v := verdicts{decide("in-toto-verify", pr), decide("in-toto-golang", gr), decide("referee", rr)}
				got[i] = v
				// A refusal must be about the rules of step two, not anything else.
				if !v.py && !strings.Contains(pr.out(), "RuleVerificationError") {
					t.Errorf("in-toto-verify refused for another reason:\n%s", pr)
				}
				if !v.gol && !strings.Contains(gr.out(), "artifact verification failed") {
					t.Errorf("in-toto-golang refused for another reason:\n%s", gr)
				}
				if !v.ref && !strings.Contains(rr.out(), `FAIL step "two"`) {
					t.Errorf("referee refused for another reason:\n%s", rr)
				}
				if v.py != c.python {
					t.Errorf("in-toto-verify now decides %v, recorded %v:\n%s", v.py, c.python, pr)
				}
				if v.gol != c.golang {
					t.Errorf("in-toto-golang now decides %v, recorded %v:\n%s", v.gol, c.golang, gr)
				}
				if v.ref != c.python {
					t.Errorf("referee decides %v, the Python reference %v (rules %q / %q):\n%s",
						v.ref, c.python, c.materials, c.products, rr)
				}
			})
		}
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%-44s %-6s %-6s %-6s\n", "case", "python", "golang", "referee")
	for i, c := range ruleCases {
		fmt.Fprintf(&b, "%-44s %-6v %-6v %-6v %s\n", c.name, got[i].py, got[i].gol, got[i].ref, c.note)
	}
	t.Logf("verdicts (true = verifies):\n%s", b.String())
}

// checkRecorded makes sure referee recorded exactly the files of the case,
// under the names the case uses, so that the verdicts are about the rules.
func checkRecorded(t *testing.T, links string, c ruleCase) {
	t.Helper()
	want := map[string][]string{
		"one": {names(c.oneM), names(c.oneP)},
		"two": {names(c.twoM), names(c.twoP)},
	}
	for _, l := range linkFiles(t, links) {
		body := readFile(t, l)
		step := strings.SplitN(filepath.Base(l), ".", 2)[0]
		for _, n := range strings.Split(strings.Join(want[step], ","), ",") {
			if n != "" && !strings.Contains(body, fmt.Sprintf("%q", n)) {
				t.Errorf("%s does not record %q:\n%s", l, n, body)
			}
		}
	}
}

func names(fs files) string {
	var n []string
	for p := range fs {
		n = append(n, p)
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}
