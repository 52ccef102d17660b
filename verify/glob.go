package verify

import (
	"regexp"

	"github.com/referee-dev/referee/internal/fnmatch"
)

// glob is an artifact-rule pattern compiled with the semantics of Python's
// fnmatch (internal/fnmatch), which the in-toto specification's reference
// uses.
type glob struct{ re *regexp.Regexp }

// compileGlob compiles pattern; a pattern Python would also reject (a
// reversed range) is an error.
func compileGlob(pattern string) (glob, error) {
	re, err := fnmatch.Compile(pattern)
	if err != nil {
		return glob{}, err
	}
	return glob{re}, nil
}

func (g glob) match(s string) bool { return g.re.MatchString(s) }
