package webhook

import (
	"fmt"
	"regexp"
	"strings"
)

// A glob is a pattern of the policy file, matched against a whole
// repository (HOST/PATH, as the image reference normalises it) or a
// namespace. The dialect is deliberately small:
//
//   - `*` matches any run of characters except `/` (one path segment or
//     part of it);
//   - `**` matches any run of characters, `/` included (any depth);
//   - `?` matches one character except `/`;
//   - every other character matches itself. `[`, `]`, `{`, `}` and `\`
//     are refused, so that no pattern means one thing here and another in
//     fnmatch, path.Match or doublestar (Python's `[!a]` and Go's `[^a]`
//     have differed before: GHSA-pmwq-pjrm-6p5r).
//
// "registry.example.com/shop/**" matches every repository below shop/ but
// not "registry.example.com/shop" itself, nor "registry.example.com/shopping/x".
type glob struct {
	pattern string
	re      *regexp.Regexp
}

func compileGlob(pattern string) (glob, error) {
	if pattern == "" {
		return glob{}, fmt.Errorf("an empty pattern")
	}
	if i := strings.IndexAny(pattern, `[]{}\`); i >= 0 {
		return glob{}, fmt.Errorf("pattern %q: %q is not part of the pattern language (only *, ** and ?)", pattern, string(pattern[i]))
	}
	if strings.Contains(pattern, "***") {
		return glob{}, fmt.Errorf("pattern %q: *** means nothing more than **", pattern)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return glob{pattern: pattern, re: regexp.MustCompile(b.String())}, nil
}

func (g glob) match(s string) bool { return g.re.MatchString(s) }

// normaliseRepoPattern spells Docker Hub as image references normalise it
// (go-containerregistry's rules): "docker.io/…" and "index.docker.io/…"
// name the same repositories.
func normaliseRepoPattern(p string) string {
	if rest, ok := strings.CutPrefix(p, "docker.io/"); ok {
		return "index.docker.io/" + rest
	}
	return p
}
