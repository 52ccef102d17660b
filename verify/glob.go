package verify

import (
	"fmt"
	"regexp"
	"strings"
)

// glob is an artifact-rule pattern compiled with the semantics of Python's
// fnmatch, which the in-toto specification's reference uses: '*' matches
// any run of characters including '/', '?' one character, "[seq]" a class
// and "[!seq]" its negation. A '^' after '[' is a literal, as in Python;
// in-toto-golang once read it as negation (GHSA-pmwq-pjrm-6p5r).
//
// Written here rather than taken from path.Match or doublestar because both
// stop '*' at '/', which would change which artifacts a rule consumes.
type glob struct{ re *regexp.Regexp }

// compileGlob translates pattern as fnmatch.translate does; Go's regexp
// runs in linear time, so hostile patterns cannot stall verification. A
// pattern Python would also reject (a reversed range) is an error, never a
// pattern that silently matches nothing.
func compileGlob(pattern string) (glob, error) {
	p := []rune(pattern)
	var b strings.Builder
	b.WriteString(`^(?s:`)
	i, n := 0, len(p)
	for i < n {
		c := p[i]
		i++
		switch c {
		case '*':
			b.WriteString(`.*`)
			for i < n && p[i] == '*' {
				i++
			}
		case '?':
			b.WriteString(`.`)
		case '[':
			j := i
			if j < n && p[j] == '!' {
				j++
			}
			if j < n && p[j] == ']' {
				j++
			}
			for j < n && p[j] != ']' {
				j++
			}
			if j >= n {
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(classRegexp(p[i:j]))
			i = j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return glob{}, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	return glob{re}, nil
}

// classRegexp turns the inside of a fnmatch "[...]" into a regexp class:
// '!' first negates, "a-z" is a range, everything else is literal.
func classRegexp(class []rune) string {
	var b strings.Builder
	b.WriteByte('[')
	if len(class) > 0 && class[0] == '!' {
		b.WriteByte('^')
		class = class[1:]
	}
	for k, c := range class {
		if c == '-' && k > 0 && k < len(class)-1 {
			b.WriteByte('-')
			continue
		}
		b.WriteString(`\x{` + fmt.Sprintf("%x", c) + `}`)
	}
	b.WriteByte(']')
	return b.String()
}

func (g glob) match(s string) bool { return g.re.MatchString(s) }
