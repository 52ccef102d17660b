package oci

import (
	"fmt"
	"io"
	"strings"
)

// WriteTree prints the referrer graph below n as a tree headed by root,
// one referrer a line: digest, artifact type, and what the annotations say
// (kind, step, signer keyids, expiry) or the problem that stopped the walk.
func (n *Node) WriteTree(w io.Writer, root string) error {
	var b strings.Builder
	b.WriteString(root + "\n")
	var walk func(n *Node, indent string)
	walk = func(n *Node, indent string) {
		for i, c := range n.Referrers {
			branch, next := "├── ", "│   "
			if i == len(n.Referrers)-1 {
				branch, next = "└── ", "    "
			}
			fmt.Fprintf(&b, "%s%s%s %s%s\n", indent, branch, c.Digest, c.ArtifactType, c.describe())
			walk(c, indent+next)
		}
	}
	walk(n, "")
	_, err := io.WriteString(w, b.String())
	return err
}

func (n *Node) describe() string {
	if n.Problem != "" {
		return "  PROBLEM: " + n.Problem
	}
	var parts []string
	a := n.Annotations
	if k := a[AnnotationKind]; k != "" {
		parts = append(parts, k)
	}
	if p := a[AnnotationPredicateType]; p != "" && a[AnnotationKind] == "" {
		parts = append(parts, "predicate "+p)
	}
	if s := a[AnnotationStep]; s != "" {
		parts = append(parts, "step "+s)
	}
	if ids := a[AnnotationKeyIDs]; ids != "" {
		var short []string
		for _, id := range strings.Split(ids, ",") {
			if len(id) > 8 {
				id = id[:8]
			}
			short = append(short, id)
		}
		parts = append(parts, "keys "+strings.Join(short, ","))
	}
	if e := a[AnnotationExpires]; e != "" {
		parts = append(parts, "expires "+e)
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}
