package oci

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
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
			fmt.Fprintf(&b, "%s%s%s %s%s\n", indent, branch, c.Digest, shown(c.ArtifactType), c.describe())
			walk(c, indent+next)
		}
	}
	walk(n, "")
	_, err := io.WriteString(w, b.String())
	return err
}

func (n *Node) describe() string {
	if n.Problem != "" {
		return "  PROBLEM: " + shown(n.Problem)
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
		parts = append(parts, shown(kind))
	}
	if p := a[AnnotationPredicateType]; p != "" && kind == "" {
		parts = append(parts, "predicate "+shown(p))
	}
	if step != "" {
		parts = append(parts, "step "+shown(step))
	}
	if len(keyids) > 0 {
		var short []string
		for _, id := range keyids {
			if len(id) > 8 {
				id = id[:8]
			}
			short = append(short, shown(id))
		}
		parts = append(parts, "keys "+strings.Join(short, ","))
	}
	if expires != "" {
		parts = append(parts, "expires "+shown(expires))
	}
	if a[AnnotationKind] == "" && c != nil {
		parts = append(parts, "read from content")
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

// shown quotes what a store wrote if it holds anything a terminal would
// act on rather than print: annotations and content are anyone's words.
func shown(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
