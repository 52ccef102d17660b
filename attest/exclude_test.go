package attest_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestExcludePatterns checks gitignore-style excludes, including patterns
// whose literal parts are split by wildcards and bracket expressions (the
// recorder skips the matcher for paths that hold none of a pattern's
// literal characters, which must never change the outcome).
func TestExcludePatterns(t *testing.T) {
	dir := t.TempDir()
	all := []string{"adef", "bdef", "zdef", "a/b/build/x", "keep.txt", "x.link", "sub/y.link.tmp", ".git/config", "f.pyc", "notes~", "deep/er/skip.me"}
	for _, p := range all {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		patterns []string
		want     string
	}{
		{nil, "a/b/build/x adef bdef deep/er/skip.me keep.txt zdef"},
		{[]string{"[ab]def"}, ".git/config a/b/build/x deep/er/skip.me f.pyc keep.txt notes~ sub/y.link.tmp x.link zdef"},
		{[]string{"[b-z]def", "**/build", "*.me", "*.link*", ".git", "*.pyc", "*~"}, "adef keep.txt"},
		{[]string{"*"}, ""},
		{[]string{"*", "!keep.txt"}, "keep.txt"},
	} {
		got, err := attest.RecordArtifacts(context.Background(), []string{"."}, attest.RecordOptions{Dir: dir, ExcludePatterns: tc.patterns})
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, 0, len(got))
		for n := range got {
			names = append(names, n)
		}
		sort.Strings(names)
		if strings.Join(names, " ") != tc.want {
			t.Errorf("excludes %q: recorded %q, want %q", tc.patterns, strings.Join(names, " "), tc.want)
		}
	}
}
