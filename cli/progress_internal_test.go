package cli

import "testing"

// TestPlural: progress and summaries say "1 item", "2 items" (the
// progress line itself is drawn only on a terminal).
func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int
		unit string
		want string
	}{
		{0, "item", "0 items"}, {1, "item", "1 item"}, {2, "file", "2 files"}, {1, "referrer", "1 referrer"}, {3, "entry", "3 entries"}, {2, "key", "2 keys"}, {2, "VSA key", "2 VSA keys"},
	} {
		if got := plural(tc.n, tc.unit); got != tc.want {
			t.Errorf("plural(%d, %q) = %q, want %q", tc.n, tc.unit, got, tc.want)
		}
	}
}
