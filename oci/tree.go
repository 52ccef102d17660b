package oci

import (
	"fmt"
	"io"
	"strings"

	"github.com/referee-dev/referee/internal/termsafe"
)

// WriteTree prints the referrer graph below n as a tree headed by root,
// one referrer a line: digest, artifact type, and what the annotations say
// (kind, step, signer keyids, expiry), or for an artifact referrer the
// file's path, digest and size from its manifest, or the problem that
// stopped the walk.
// Every string is the registry's or a document's and is printed through
// termsafe.Quote, so that none can act on a terminal.
func (n *Node) WriteTree(w io.Writer, root string) error {
	var b strings.Builder
	b.WriteString(termsafe.Quote(root) + "\n")
	var walk func(n *Node, indent string)
	walk = func(n *Node, indent string) {
		for i, c := range n.Referrers {
			branch, next := "├── ", "│   "
			if i == len(n.Referrers)-1 {
				branch, next = "└── ", "    "
			}
			fmt.Fprintf(&b, "%s%s%s %s%s\n", indent, branch, termsafe.Quote(c.Digest), termsafe.Quote(c.ArtifactType), c.describe())
			walk(c, indent+next)
		}
	}
	walk(n, "")
	_, err := io.WriteString(w, b.String())
	return err
}

func (n *Node) describe() string {
	if n.Problem != "" {
		return "  PROBLEM: " + termsafe.Quote(n.Problem)
	}
	if f := n.Artifact; f != nil {
		step := ""
		if f.Step != "" {
			step = ", step " + termsafe.Quote(f.Step)
		}
		return fmt.Sprintf("  (%s, path %s, %s, %d bytes%s)", KindArtifact, termsafe.Quote(f.Path), termsafe.Quote(f.Digest), f.Size, step)
	}
	var parts []string
	a := n.Annotations
	kind, step, expires := a[AnnotationKind], a[AnnotationStep], a[AnnotationExpires]
	var keyids []string
	if ids := a[AnnotationKeyIDs]; ids != "" {
		keyids = strings.Split(ids, ",")
	}
	c := n.FromContent
	if kind == "" && c != nil {
		kind, step, expires, keyids = c.Kind, c.Step, c.Expires, c.KeyIDs
	}
	if kind != "" {
		parts = append(parts, termsafe.Quote(kind))
	}
	if p := a[AnnotationPredicateType]; p != "" && kind == "" {
		parts = append(parts, "predicate "+termsafe.Quote(p))
	}
	if step != "" {
		parts = append(parts, "step "+termsafe.Quote(step))
	}
	if len(keyids) > 0 {
		var short []string
		for _, id := range keyids {
			if len(id) > 8 {
				id = id[:8]
			}
			short = append(short, termsafe.Quote(id))
		}
		parts = append(parts, "keys "+strings.Join(short, ","))
	}
	if expires != "" {
		parts = append(parts, "expires "+termsafe.Quote(expires))
	}
	if a[AnnotationKind] == "" && c != nil {
		parts = append(parts, "read from content")
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}
