package slsa

import (
	"fmt"
	"io"
	"strings"

	"github.com/referee-dev/referee/internal/termsafe"
)

// WriteText writes the result for a person: the level, then each
// level's requirement, met or not, with why. What came from a registry or
// a document is printed through termsafe.Quote.
func (r Result) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Image != "" {
		fmt.Fprintf(&b, "image %s\n", termsafe.Quote(r.Image))
	}
	if r.Build != "" {
		fmt.Fprintf(&b, "build step %s\n", termsafe.Quote(r.Build))
	}
	for _, q := range r.Requirements {
		state := "met"
		if !q.Met {
			state = "NOT met"
		}
		fmt.Fprintf(&b, "  L%d %s: %s: %s\n", int(q.Level), q.Name, state, termsafe.Quote(q.Reason))
	}
	fmt.Fprintf(&b, "%s (SLSA v1.0 Build track)\n", r.Level)
	_, err := io.WriteString(w, b.String())
	return err
}
