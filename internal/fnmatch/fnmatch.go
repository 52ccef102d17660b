// Package fnmatch compiles in-toto artifact-rule patterns with the
// semantics of Python's fnmatch, which the in-toto specification's
// reference uses: '*' matches any run of characters including '/', '?'
// one character, "[seq]" a class and "[!seq]" its negation; a '^' after
// '[' is a literal, as in Python (in-toto-golang once read it as negation,
// GHSA-pmwq-pjrm-6p5r); an unclosed '[' is a literal.
//
// Written here rather than taken from path.Match or doublestar because
// both stop '*' at '/', which would change which artifacts a rule
// consumes. The verification engine and layout lint share it, so that
// lint reads patterns exactly as verification matches them.
// https://docs.python.org/3/library/fnmatch.html
package fnmatch

import (
	"fmt"
	"regexp"
	"strings"
)

// Compile translates pattern as fnmatch.translate does; Go's regexp runs
// in linear time, so hostile patterns cannot stall verification. A
// pattern Python would also reject (a reversed range) is an error, never
// a pattern that silently matches nothing.
func Compile(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(translate(pattern))
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	return re, nil
}

// Match reports whether s matches pattern; a pattern that does not
// compile matches nothing.
func Match(pattern, s string) bool {
	re, err := Compile(pattern)
	return err == nil && re.MatchString(s)
}

func translate(pattern string) string {
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
			b.WriteString(class(p[i:j]))
			i = j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return b.String()
}

// class turns the inside of a fnmatch "[...]" into a regexp class: '!'
// first negates, "a-z" is a range, everything else is literal.
func class(set []rune) string {
	var b strings.Builder
	b.WriteByte('[')
	if len(set) > 0 && set[0] == '!' {
		b.WriteByte('^')
		set = set[1:]
	}
	for k, c := range set {
		if c == '-' && k > 0 && k < len(set)-1 {
			b.WriteByte('-')
			continue
		}
		fmt.Fprintf(&b, `\x{%x}`, c)
	}
	b.WriteByte(']')
	return b.String()
}
