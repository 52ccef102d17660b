package fnmatch_test

import (
	"testing"

	"github.com/referee-dev/referee/internal/fnmatch"
)

// TestMatch: Python's fnmatch semantics, as the references' rule tables
// record them (integration/rules_test.go checks them live against both).
func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "dir/file", true},        // '*' crosses '/'
		{"src/*", "src/a/b.go", true},  //
		{"?", "/", true},               // '?' too
		{"*.go", "main.go", true},      //
		{"*.go", "main.go.bak", false}, //
		{"[ab].txt", "a.txt", true},    //
		{"[!ab].txt", "a.txt", false},  // '!' negates
		{"[!ab].txt", "c.txt", true},   //
		{"[^a].txt", "^.txt", true},    // '^' is literal, as in Python
		{"[^a].txt", "b.txt", false},   //
		{"[ab", "[ab", true},           // an unclosed '[' is literal
		{"[]a].c", "].c", true},        // ']' first is in the set
		{`foo\*`, `foo\bar`, true},     // '\' is an ordinary character
		{`foo\*`, "foo*", false},       //
		{"a-z", "a-z", true},           // '-' outside a set is literal
		{"[a-c]", "b", true},           // ranges
		{"[a-]", "-", true},            // '-' last is literal
		{".*", ".hidden", true},        // dot-files match '*'
		{"app.tar", "appxtar", false},  // '.' is literal
		{"**", "a/b/c", true},          // repeated '*' is one
		{"x", "x\ny", false},           // anchored at both ends
	} {
		if got := fnmatch.Match(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
	if _, err := fnmatch.Compile("[z-a]"); err == nil {
		t.Error("a reversed range compiled")
	}
	if fnmatch.Match("[z-a]", "b") {
		t.Error("a pattern that does not compile matched")
	}
}
