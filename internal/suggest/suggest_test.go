package suggest_test

import (
	"testing"

	"github.com/referee-dev/referee/internal/suggest"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"verify", "verify", 0},
		{"verfy", "verify", 1}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2},
	} {
		if got := suggest.Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNearest(t *testing.T) {
	names := []string{"version", "verify", "keygen"}
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"verfy", 2, "verify"}, {"versoin", 2, "version"}, {"xyzzy", 2, ""}, {"keygne", 1, ""}, {"keygne", 2, "keygen"},
	} {
		if got := suggest.Nearest(tc.s, names, tc.max); got != tc.want {
			t.Errorf("Nearest(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}
