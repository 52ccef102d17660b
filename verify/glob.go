package verify

import (
	"regexp"
	"strings"

	"github.com/referee-dev/referee/internal/fnmatch"
)

// glob is an artifact-rule pattern compiled with the semantics of Python's
// fnmatch (internal/fnmatch), which the in-toto specification's reference
// uses. Patterns of literal text and '*' only (nearly all: "*",
// "src/*", "*.o") are matched by comparing their pieces, which matches the
// same paths (fnmatch's '*' is any run of characters, '/' included) an
// order of magnitude faster than the regular expression, run for every
// artifact of a large link; glob_test.go compares the two.
type glob struct {
	re *regexp.Regexp
	// stars is the pattern split at '*' when it has no other
	// wildcard ('?', '['); nil otherwise.
	stars []string
}

// compileGlob compiles pattern; a pattern Python would also reject (a
// reversed range) is an error.
func compileGlob(pattern string) (glob, error) {
	if !strings.ContainsAny(pattern, "?[") && len(pattern) <= maxStarsOnly {
		// Its regular expression would never be used, nor refused.
		return glob{stars: strings.Split(pattern, "*")}, nil
	}
	re, err := fnmatch.Compile(pattern)
	if err != nil {
		return glob{}, err
	}
	g := glob{re: re}
	if !strings.ContainsAny(pattern, "?[") {
		g.stars = strings.Split(pattern, "*")
	}
	return g, nil
}

// maxStarsOnly is the longest pattern of literal text and '*' whose
// regular expression is not built: regexp refuses only expressions far
// longer ("expression too large", beyond megabytes), and a longer one is
// compiled so that it is refused as before. Compiling the expressions of
// a 500-step layout's rules took half of its evaluation.
const maxStarsOnly = 4 << 10

func (g glob) match(s string) bool {
	if g.stars == nil {
		return g.re.MatchString(s)
	}
	parts := g.stars
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
