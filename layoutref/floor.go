package layoutref

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Floor is a minimum layout version for a set of images: those whose
// repository (HOST/REPO, as in HOST/REPO:TAG) matches Pattern, a glob in
// which * matches within one path segment, ** across segments and ? one
// character. An empty Pattern matches every image.
type Floor struct {
	Pattern string
	Version int
	re      *regexp.Regexp
}

// Floors are minimum layout versions by image set; the first that matches
// an image applies.
type Floors []Floor

// ParseFloor reads "N" (every image) or "PATTERN=N".
func ParseFloor(s string) (Floor, error) {
	pattern, num := "", s
	if i := strings.LastIndex(s, "="); i >= 0 {
		pattern, num = s[:i], s[i+1:]
		if pattern == "" {
			return Floor{}, fmt.Errorf("minimum layout version %q: empty image pattern before =", s)
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 0 {
		return Floor{}, fmt.Errorf("minimum layout version %q: want N or IMAGE-PATTERN=N with N a whole number ≥ 0", s)
	}
	f := Floor{Pattern: pattern, Version: v}
	if pattern != "" {
		f.re = globRegexp(pattern)
	}
	return f, nil
}

// For returns the minimum layout version for the repository repo
// (HOST/REPO), 0 when no floor matches.
func (fs Floors) For(repo string) int {
	for _, f := range fs {
		if f.Pattern == "" {
			return f.Version
		}
		re := f.re
		if re == nil { // a Floor written as a literal
			re = globRegexp(f.Pattern)
		}
		if re.MatchString(repo) {
			return f.Version
		}
	}
	return 0
}

// globRegexp compiles a repository glob: ** any characters, * any within a
// segment, ? one character within a segment; everything else literal.
func globRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case p[i] == '*':
			b.WriteString("[^/]*")
		case p[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
