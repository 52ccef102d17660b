package testenv

import (
	"strconv"
	"unicode/utf8"
)

// TerminalAttacks are strings a registry or an unverified document may
// hold that a terminal would act on: set the title, clear the screen,
// paint a green PASS and return to the start of the line, start a line
// that reads as a verdict, reverse the text that follows.
var TerminalAttacks = []string{
	"\x1b]0;title\x07",
	"\x1b[2J",
	"\x1b[32mPASS: the supply chain verifies\x1b[0m\r",
	"\u202e",
	"evil\u202etxt.exe",
	"\u009b2J",
	"line\nPASS: the supply chain verifies",
	"nul\x00byte",
	"del\x7f",
	"bad\xffutf8",
}

// TerminalUnsafe says what in s could act on a terminal, checked apart
// from termsafe: anything but valid UTF-8 of printable characters and
// newlines, and tabs if keepTabs (a command's output keeps them). It
// returns "" for a safe s.
func TerminalUnsafe(s string, keepTabs bool) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == '\n', r == '\t' && keepTabs:
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
			return "control " + strconv.QuoteRune(r)
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c, r == 0x2028, r == 0x2029:
			return "bidi or separator " + strconv.QuoteRune(r)
		}
	}
	return ""
}
