package verify_test

import (
	"strings"
	"testing"

	"github.com/referee-dev/referee/internal/fnmatch"
	"github.com/referee-dev/referee/verify"
)

// TestGlobMatchesFnmatch compares the engine's matching of patterns of
// literal text and '*' (compared piece by piece) with fnmatch's regular
// expression, on every pair of some patterns and paths.
func TestGlobMatchesFnmatch(t *testing.T) {
	patterns := []string{"*", "", "**", "src/*", "*.o", "src/*.go", "a*a", "*a*", "a*b*c", "src/*/x*", "*/", "é*", "*é", "a**b",
		"foo", "src/[ab]*", "?", "src/?.go", "[!a]*", "*[", "a*a*a",
		strings.Repeat("a*", 2100), strings.Repeat("a*", 1000)} // beyond maxStarsOnly, and within it
	paths := []string{"", "a", "aa", "aaa", "ab", "abc", "acbc", "src/a.go", "src/b/c.go", "src/x/xy", "build/a.o", "a.o", "src/", "é", "éa", "aé",
		"foo", "foo/", "a\nb", "src/a\n.go", "[", "x["}
	for _, p := range patterns {
		for _, s := range paths {
			got, err := verify.GlobMatch(p, s)
			if err != nil {
				t.Fatalf("pattern %q: %v", p, err)
			}
			if want := fnmatch.Match(p, s); got != want {
				t.Errorf("pattern %q on %q: %v, fnmatch %v", p, s, got, want)
			}
		}
	}
}
