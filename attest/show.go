package attest

import (
	"fmt"
	"io"
	"strings"

	"github.com/referee-dev/referee/internal/termsafe"
)

// WriteLayoutText prints a layout for a person: expiry, keys, each step's
// functionaries, threshold and rules, inspections, and who signed the
// envelope (claimed keyids, not verified).
func WriteLayoutText(w io.Writer, l *Layout, env *Envelope) error {
	var b strings.Builder
	fmt.Fprintf(&b, "layout (%s), expires %s\n", env.Form, l.Expires)
	if l.Readme != "" {
		fmt.Fprintf(&b, "readme: %s\n", termsafe.Quote(l.Readme))
	}
	fmt.Fprintf(&b, "signatures (unverified): %s\n", quoteAll(env.SignerKeyIDs()))
	b.WriteString("keys:\n")
	for _, id := range l.KeyIDs() {
		k := l.Keys[id]
		fmt.Fprintf(&b, "  %s  %s/%s\n", id, k.KeyType, k.Scheme)
	}
	for _, s := range l.Steps {
		short := make([]string, len(s.PubKeys))
		for i, id := range s.PubKeys {
			short[i] = ShortKeyID(id)
		}
		fmt.Fprintf(&b, "step %s: threshold %d of [%s]\n", termsafe.Quote(s.Name), s.Threshold, strings.Join(short, ", "))
		if len(s.ExpectedCommand) > 0 {
			fmt.Fprintf(&b, "  expected command: %s\n", termsafe.Quote(strings.Join(s.ExpectedCommand, " ")))
		}
		writeRules(&b, "materials", s.ExpectedMaterials)
		writeRules(&b, "products", s.ExpectedProducts)
	}
	for _, in := range l.Inspect {
		fmt.Fprintf(&b, "inspection %s: runs %s\n", termsafe.Quote(in.Name), termsafe.Quote(strings.Join(in.Run, " ")))
		writeRules(&b, "materials", in.ExpectedMaterials)
		writeRules(&b, "products", in.ExpectedProducts)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeRules(b *strings.Builder, set string, rules [][]string) {
	for _, r := range rules {
		fmt.Fprintf(b, "  %s: %s\n", set, strings.Join(r, " "))
	}
}

// ShortKeyID is the first eight characters of a keyid.
func ShortKeyID(id string) string { return short(id) }

// quoteAll joins strings that came with a document, each quoted if a
// terminal would act on it (they are unsigned, or not yet verified).
func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = termsafe.Quote(s)
	}
	return strings.Join(q, ", ")
}
