package webhook

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// shape describes what a policy file's node may be: a mapping with known
// fields, a list of one shape, or a scalar of a kind.
type shape struct {
	fields map[string]*shape
	noun   string // what a list's elements are called ("policy")
	elem   *shape
	scalar string // "string", "int", "bool"
}

var (
	strShape  = &shape{scalar: "string"}
	strsShape = &shape{elem: strShape}
	ruleShape = &shape{fields: map[string]*shape{
		"name": strShape, "images": strsShape, "namespaces": strsShape,
		"layoutKeys": strsShape, "vsaKeys": strsShape, "vsaMaxAge": strShape,
		"minLayoutVersion": {scalar: "int"}, "requireDigest": {scalar: "bool"},
		"staleIfError": strShape,
	}}
	policyFileShape = &shape{fields: map[string]*shape{
		"policies":  {elem: ruleShape, noun: "policy"},
		"unmatched": strShape,
		"exclude":   {fields: map[string]*shape{"namespaces": strsShape}},
	}}
)

// checkNode checks n against s, so that the file's mistakes are told in
// its own words and lines rather than the decoder's types. where says
// which policy a field is in (` in policy "shop"`).
func checkNode(n *yaml.Node, s *shape, where string) error {
	if n.Kind == yaml.AliasNode {
		return fmt.Errorf("line %d: aliases are not allowed in a policy file", n.Line)
	}
	if n.Tag == "!!null" {
		return nil
	}
	switch {
	case s.fields != nil:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: expected a mapping%s, not %s", n.Line, where, describe(n))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			fs, ok := s.fields[k.Value]
			if !ok || k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: unknown field %q%s%s", k.Line, k.Value, where, suggest(k.Value, s.fields))
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: field %q given twice%s", k.Line, k.Value, where)
			}
			seen[k.Value] = true
			if err := checkNode(v, fs, where); err != nil {
				return err
			}
		}
	case s.elem != nil:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: expected a list%s, not %s", n.Line, where, describe(n))
		}
		for _, c := range n.Content {
			w := where
			if s.noun != "" {
				w = fmt.Sprintf(" in %s %q", s.noun, valueOf(c, "name").Value)
				if valueOf(c, "name").Value == "" {
					w = fmt.Sprintf(" in the %s at line %d", s.noun, c.Line)
				}
			}
			if err := checkNode(c, s.elem, w); err != nil {
				return err
			}
		}
	default:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: expected %s%s, not %s", n.Line, scalarWord(s.scalar), where, describe(n))
		}
		switch s.scalar {
		case "int":
			if _, err := strconv.Atoi(n.Value); err != nil {
				return fmt.Errorf("line %d: %q is not a whole number%s", n.Line, n.Value, where)
			}
		case "bool":
			if n.Value != "true" && n.Value != "false" {
				return fmt.Errorf("line %d: %q is not true or false%s", n.Line, n.Value, where)
			}
		}
	}
	return nil
}

func scalarWord(kind string) string {
	switch kind {
	case "int":
		return "a whole number"
	case "bool":
		return "true or false"
	}
	return "a string"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func suggest(name string, fields map[string]*shape) string {
	var names []string
	for f := range fields {
		if strings.EqualFold(f, name) || strings.EqualFold(strings.ReplaceAll(f, "_", ""), strings.ReplaceAll(name, "_", "")) {
			return fmt.Sprintf(" (did you mean %s?)", f)
		}
		names = append(names, f)
	}
	sort.Strings(names)
	return " (known: " + strings.Join(names, ", ") + ")"
}

// valueOf returns the value of key in mapping n, or an empty node.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return &yaml.Node{}
}

func lineOf(n *yaml.Node, key string) int {
	if v := valueOf(n, key); v.Line > 0 {
		return v.Line
	}
	return n.Line
}
