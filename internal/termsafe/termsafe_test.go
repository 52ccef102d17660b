package termsafe_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/referee-dev/referee/internal/termsafe"
)

// TestQuote: what could act on a terminal is escaped, in quotes; ordinary
// text in any script is left as it is.
func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		// Ordinary text, left readable.
		{"", ""},
		{"build", "build"},
		{"application/vnd.in-toto.layout+dsse", "application/vnd.in-toto.layout+dsse"},
		{"step \"build\" of the layout", "step \"build\" of the layout"},
		{`C:\path`, `C:\path`},
		{"Übersetzung — 構築 ✓", "Übersetzung — 構築 ✓"},
		{"\ufffd", "\ufffd"}, // a real replacement character prints
		// The attacks.
		{"\x1b]0;title\x07", `"\x1b]0;title\a"`},
		{"\x1b[2J", `"\x1b[2J"`},
		{"\x1b[32mPASS: the supply chain verifies\x1b[0m\r", `"\x1b[32mPASS: the supply chain verifies\x1b[0m\r"`},
		{"\u202e", `"\u202e"`},
		{"abc\u202edcba", `"abc\u202edcba"`},
		{"\u2066x\u2069", `"\u2066x\u2069"`},
		{"\u061c", `"\u061c"`},
		{"a\nb", `"a\nb"`},
		{"a\tb", `"a\tb"`},
		{"\x00", `"\x00"`},
		{"\x7f", `"\x7f"`},
		{"\u009b2J", `"\u009b2J"`}, // C1 CSI
		{"\u0085", `"\u0085"`},     // C1 NEL
		{"\u2028", `"\u2028"`},     // line separator
		{"a\u00a0b", `"a\u00a0b"`}, // a space that is not one
		{"zero\u200bwidth", `"zero\u200bwidth"`},
		{"\ufeff", `"\ufeff"`},
		{"\ue000", `"\ue000"`}, // private use
		{"bad \xff byte", `"bad \xff byte"`},
		{"\xc2\x9b2J", `"\u009b2J"`}, // CSI as UTF-8 bytes
		{"\x9b2J", `"\x9b2J"`},       // CSI as one byte
	} {
		got := termsafe.Quote(tc.in)
		if got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if termsafe.Safe(tc.in) != (got == tc.in) {
			t.Errorf("Safe(%q) disagrees with Quote", tc.in)
		}
		if !printsAsItself(got) {
			t.Errorf("Quote(%q) = %q still holds a character a terminal acts on", tc.in, got)
		}
		if got != tc.in {
			if back, err := strconv.Unquote(got); err != nil || (back != tc.in && utf8.ValidString(tc.in)) {
				t.Errorf("Quote(%q) = %s does not unquote to the input: %q %v", tc.in, got, back, err)
			}
		}
	}
}

// printsAsItself: only printable runes and ASCII space, valid UTF-8.
func printsAsItself(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x2028 || r == 0x2029 || r == 0x200b || r == 0xfeff {
			return false
		}
	}
	return true
}

// TestEscapeJSON: encoding/json escapes C0 controls but not DEL, C1 or the
// bidi controls; EscapeJSON escapes those too and changes no value.
func TestEscapeJSON(t *testing.T) {
	values := []string{"plain ✓ 構築", "\x1b]0;title\x07", "\x1b[32mPASS\x1b[0m\r", "\u202e", "\u009b2J", "\x7f", "\u2028", "\U000e0001 tag", "\xff", "\U0001F600 prints"}
	raw, err := json.Marshal(map[string]any{"values": values, "nested": map[string]string{"\u202ekey": "\u0085"}})
	if err != nil {
		t.Fatal(err)
	}
	if printsAsItself(string(raw)) {
		t.Fatalf("encoding/json now escapes everything; EscapeJSON may be unneeded: %s", raw)
	}
	safe := termsafe.EscapeJSON(raw)
	if !printsAsItself(string(safe)) {
		t.Errorf("EscapeJSON left a control: %q", safe)
	}
	if !strings.Contains(string(safe), "plain ✓ 構築") || !strings.Contains(string(safe), "\U0001F600 prints") {
		t.Errorf("EscapeJSON escaped ordinary text: %s", safe)
	}
	var before, after any
	if err := json.Unmarshal(raw, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(safe, &after); err != nil {
		t.Fatalf("EscapeJSON made invalid JSON: %v: %s", err, safe)
	}
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) {
		t.Errorf("EscapeJSON changed a value:\n%s\n%s", b1, b2)
	}
}
