package attest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/referee-dev/referee/internal/lazyre"
	"github.com/referee-dev/referee/internal/suggest"
)

// checkSpecNode checks a spec's YAML against the fields of Spec before it
// is decoded, so that a mistake is told in the spec's own words, with its
// line: an unknown field (and the known one it is likely a typo of), a
// value of the wrong kind, a rule that does not parse. Field names and the
// kinds of their values come from Spec's yaml tags, so the check cannot
// drift from the decoding. Aliases are left to the decoder.
func checkSpecNode(doc *yaml.Node) error {
	n := doc
	if n.Kind == 0 {
		return nil // an empty document
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode || isYAMLNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a layout spec is a mapping of fields (expires, functionaries, steps, …), not %s", n.Line, describeNode(n))
	}
	return checkFields(n, reflect.TypeFor[Spec](), "")
}

var commandLineType = reflect.TypeFor[CommandLine]()

// specNouns name the elements of the spec's lists in messages.
var specNouns = map[string]string{"steps": "step", "sublayouts": "sublayout", "inspections": "inspection"}

// checkFields checks a mapping decoded into the struct type t; where says
// which step or inspection it is (` in step "build"`, or "" at the top).
func checkFields(n *yaml.Node, t reflect.Type, where string) error {
	fields := map[string]reflect.Type{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" {
			continue // a merge: the decoder checks what it brings
		}
		ft, ok := fields[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: unknown field %q%s%s", k.Line, k.Value, where, suggestField(k.Value, names))
		}
		if err := checkValue(v, ft, k.Value, where); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks that n can be decoded into t, the type of field.
func checkValue(n *yaml.Node, t reflect.Type, field, where string) error {
	if n.Kind == yaml.AliasNode || isYAMLNull(n) {
		return nil
	}
	wrong := func(want string) error {
		return fmt.Errorf("line %d: %s%s is %s; want %s", n.Line, field, where, describeNode(n), want)
	}
	switch {
	case t == commandLineType:
		if n.Kind == yaml.MappingNode {
			return wrong("a command: a string or a list of strings")
		}
		if n.Kind == yaml.SequenceNode {
			for _, e := range n.Content {
				if e.Kind != yaml.ScalarNode && e.Kind != yaml.AliasNode {
					return fmt.Errorf("line %d: an argument of %s%s is %s; want a string", e.Line, field, where, describeNode(e))
				}
			}
		}
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			return wrong("a string")
		}
	case t.Kind() == reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			return wrong("a whole number")
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return wrong("a mapping of names to public-key files (alice: keys/alice.pub)")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind != yaml.ScalarNode && v.Kind != yaml.AliasNode {
				return fmt.Errorf("line %d: functionary %q is %s; want the name of a public-key file", v.Line, n.Content[i].Value, describeNode(v))
			}
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		if n.Kind != yaml.SequenceNode {
			return wrong("a list")
		}
		noun := specNouns[field]
		for i, e := range n.Content {
			if e.Kind == yaml.AliasNode || isYAMLNull(e) {
				continue
			}
			if e.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: %s %d is %s; want a mapping of fields (name: …)", e.Line, noun, i+1, describeNode(e))
			}
			if err := checkFields(e, t.Elem(), elementWhere(e, noun, i)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return wrong("a list")
		}
		rules := field == "expected_materials" || field == "expected_products"
		for _, e := range n.Content {
			if e.Kind == yaml.AliasNode {
				continue
			}
			if e.Kind != yaml.ScalarNode {
				hint := ""
				if rules && e.Kind == yaml.MappingNode {
					hint = " (a rule with \": \" in it must be quoted)"
				}
				return fmt.Errorf("line %d: an entry of %s%s is %s; want a string%s", e.Line, field, where, describeNode(e), hint)
			}
			if rules {
				if _, err := ParseRuleString(e.Value); err != nil {
					return fmt.Errorf("line %d: %s%s: %w", e.Line, field, where, err)
				}
			}
		}
	}
	return nil
}

// elementWhere names the i-th element of a list of steps or inspections by
// its name, or by its place when it has none.
func elementWhere(n *yaml.Node, noun string, i int) string {
	for j := 0; j+1 < len(n.Content); j += 2 {
		if k, v := n.Content[j], n.Content[j+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
			return fmt.Sprintf(" in %s %q", noun, v.Value)
		}
	}
	return fmt.Sprintf(" in %s %d", noun, i+1)
}

func isYAMLNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describeNode says what a node is, for "X is …; want …".
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("%q", v)
	}
	return "something else"
}

// suggestField returns " (did you mean NAME?)" for the known field a typo
// most likely meant: one a few edits away, or one ending in "_"+typo
// (command for expected_command).
func suggestField(typo string, names []string) string {
	limit := 1
	switch {
	case len(typo) >= 8:
		limit = 3
	case len(typo) >= 4:
		limit = 2
	}
	if best := suggest.Nearest(typo, names, limit); best != "" {
		return " (did you mean " + best + "?)"
	}
	for _, n := range names {
		if strings.HasSuffix(n, "_"+typo) {
			return " (did you mean " + n + "?)"
		}
	}
	return ""
}

var (
	yamlFieldNotFound = lazyre.New(`field (\S+) not found in type \S+`)
	yamlCannotDecode  = lazyre.New("cannot unmarshal !!\\w+ `([^`]*)` into (\\S+)")
)

// yamlError rewords what the YAML decoder says in Go's terms (types,
// "unmarshal") into one line in the spec's.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = strings.ReplaceAll(msg, "\n", "; ")
	msg = yamlFieldNotFound().ReplaceAllString(msg, `unknown field "$1"`)
	msg = yamlCannotDecode().ReplaceAllStringFunc(msg, func(m string) string {
		sub := yamlCannotDecode().FindStringSubmatch(m)
		want := "another kind of value"
		switch to := sub[2]; {
		case to == "int":
			want = "a whole number"
		case to == "string":
			want = "a string"
		case strings.HasPrefix(to, "[]"), to == "attest.CommandLine":
			want = "a list"
		case strings.HasPrefix(to, "map["), strings.HasPrefix(to, "attest."):
			want = "a mapping"
		}
		return fmt.Sprintf("%q is not %s", sub[1], want)
	})
	return errors.New(msg)
}
