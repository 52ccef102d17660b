package attest

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/referee-dev/referee/internal/termsafe"
)

// WriteLinkText prints a link for a person: the step, who claims to have
// signed it (keyids, not verified), the command, every material and
// product with its hashes, and the byproducts (exit code, output).
func WriteLinkText(w io.Writer, l *Link, env *Envelope) error {
	var b strings.Builder
	fmt.Fprintf(&b, "link for step %s (%s)\n", termsafe.Quote(l.Name), env.Form)
	fmt.Fprintf(&b, "signatures (unverified): %s\n", quoteAll(env.SignerKeyIDs()))
	if len(l.Command) > 0 {
		fmt.Fprintf(&b, "command: %s\n", termsafe.Quote(strings.Join(l.Command, " ")))
	}
	writeArtifacts(&b, "materials", l.Materials)
	writeArtifacts(&b, "products", l.Products)
	if rv, ok := l.Byproducts["return-value"]; ok {
		fmt.Fprintf(&b, "return value: %v\n", rv)
	}
	for _, k := range []string{"stdout", "stderr"} {
		if s, _ := l.Byproducts[k].(string); s != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, quoteOutput(s))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeArtifacts(b *strings.Builder, set string, m map[string]HashObj) {
	fmt.Fprintf(b, "%s: %d\n", set, len(m))
	paths := make([]string, 0, len(m))
	for p := range m {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		algs := make([]string, 0, len(m[p]))
		for a := range m[p] {
			algs = append(algs, a)
		}
		sort.Strings(algs)
		hs := make([]string, len(algs))
		for i, a := range algs {
			hs[i] = termsafe.Quote(a + ":" + m[p][a])
		}
		fmt.Fprintf(b, "  %q  %s\n", p, strings.Join(hs, " "))
	}
}

// quoteOutput shows a command's recorded output on one line, quoted so
// that control characters in it cannot act on the terminal, and bounded.
func quoteOutput(s string) string {
	const max = 2000
	if len(s) > max {
		return fmt.Sprintf("%q… (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}
