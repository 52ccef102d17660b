// Package termsafe makes text that others wrote (a registry's annotations,
// artifact types and digests, the names and keyids inside unverified
// documents) safe to print on a terminal, so that it cannot move the
// cursor, clear the screen, set the window title or reorder what is shown.
// See docs/threat-model.md.
package termsafe

import (
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Quote returns s unchanged when every character of it prints as itself,
// and otherwise s as a Go double-quoted string (strconv.Quote) in which
// every such character is escaped: ESC, CR, BEL and every other C0 and C1
// control and DEL, Unicode format characters (among them the bidi
// controls U+202A–U+202E and U+2066–U+2069, and zero-width characters),
// line and paragraph separators, spaces other than U+0020, unassigned and
// private-use code points, and bytes that are not UTF-8. Ordinary text,
// in any script, stays as it is.
func Quote(s string) string {
	if Safe(s) {
		return s
	}
	return strconv.Quote(s)
}

// Safe reports whether every character of s prints as itself
// (unicode.IsPrint) and s is valid UTF-8: whether Quote leaves s as it is.
func Safe(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return false
			}
		}
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// EscapeJSON rewrites JSON text as encoding/json writes it so that it is
// also safe on a terminal: encoding/json escapes C0 controls and U+2028
// and U+2029, but leaves DEL, C1 controls (U+009B is CSI, as ESC [ is) and
// the bidi controls as they are. EscapeJSON writes each character Quote
// would escape as a \uXXXX escape (a surrogate pair above U+FFFF) and
// bytes that are not UTF-8 as \ufffd, which changes no value: outside
// strings, JSON text is ASCII.
func EscapeJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r < utf8.RuneSelf && r != 0x7f:
			out = append(out, b[i])
		case r == utf8.RuneError && n == 1:
			out = append(out, `\ufffd`...)
		case unicode.IsPrint(r):
			out = append(out, b[i:i+n]...)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = appendU(appendU(out, r1), r2)
		default:
			out = appendU(out, r)
		}
		i += n
	}
	return out
}

func appendU(out []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}
