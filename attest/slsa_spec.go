package attest

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// SpecSLSA is a spec's SLSA declaration (Spec.SLSA): which step is the
// build and which of its functionaries, by their names under
// functionaries, are hosted and hardened build platforms
// (https://slsa.dev/spec/v1.0/levels); hosted and hardened are lists or
// one name, and every hardened functionary is also hosted. The layout
// carries it as a readme line (see Layout.SLSA), so the owner signs it.
type SpecSLSA struct {
	Build    string   `yaml:"build"`
	Hosted   []string `yaml:"hosted"`
	Hardened []string `yaml:"hardened"`
}

// UnmarshalYAML reads the slsa mapping strictly, telling mistakes with
// their line in the spec's words.
func (s *SpecSLSA) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: slsa is %s; want a mapping (build: STEP, hosted: [NAME, …], hardened: [NAME, …])", n.Line, describeNode(n))
	}
	names := []string{"build", "hosted", "hardened"}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || !slices.Contains(names, k.Value) {
			return fmt.Errorf("line %d: unknown field %q in slsa%s", k.Line, k.Value, suggestField(k.Value, names))
		}
		if seen[k.Value] {
			return fmt.Errorf("line %d: slsa has %s twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "build":
			if v.Kind != yaml.ScalarNode || isYAMLNull(v) || v.Value == "" {
				return fmt.Errorf("line %d: build in slsa is %s; want the name of the build step", v.Line, describeNode(v))
			}
			s.Build = v.Value
		default:
			list, err := specNames(v, k.Value)
			if err != nil {
				return err
			}
			if k.Value == "hosted" {
				s.Hosted = list
			} else {
				s.Hardened = list
			}
		}
	}
	if s.Build == "" {
		return fmt.Errorf("line %d: slsa names no build step (build: STEP)", n.Line)
	}
	return nil
}

// specNames reads a list of functionary names, or one name.
func specNames(v *yaml.Node, field string) ([]string, error) {
	if v.Kind == yaml.ScalarNode && !isYAMLNull(v) && v.Value != "" {
		return []string{v.Value}, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: %s in slsa is %s; want a list of functionaries ([ci])", v.Line, field, describeNode(v))
	}
	var out []string
	for _, e := range v.Content {
		if e.Kind != yaml.ScalarNode || isYAMLNull(e) || e.Value == "" {
			return nil, fmt.Errorf("line %d: an entry of %s in slsa is %s; want the name of a functionary", e.Line, field, describeNode(e))
		}
		if slices.Contains(out, e.Value) {
			return nil, fmt.Errorf("line %d: %s in slsa lists %q twice", e.Line, field, e.Value)
		}
		out = append(out, e.Value)
	}
	return out, nil
}

// declaration turns the spec's declaration, in functionary names, into the
// layout's, in keyids (ids maps a functionary's name to its keyid),
// checking it in the spec's words.
func (s *SpecSLSA) declaration(spec *Spec, ids map[string]string) (*SLSADeclaration, error) {
	var build *SpecStep
	for _, st := range append(append([]SpecStep(nil), spec.Steps...), spec.Sublayouts...) {
		if st.Name == s.Build {
			build = &st
			break
		}
	}
	if build == nil {
		for _, in := range spec.Inspections {
			if in.Name == s.Build {
				return nil, fmt.Errorf("slsa: build %q is an inspection, not a step", s.Build)
			}
		}
		return nil, fmt.Errorf("slsa: build step %q is not under steps or sublayouts", s.Build)
	}
	d := &SLSADeclaration{Build: s.Build}
	keyids := func(field string, names []string) ([]string, error) {
		var out []string
		for _, name := range names {
			id, ok := ids[name]
			if !ok {
				return nil, fmt.Errorf("slsa: %s functionary %q is not under functionaries", field, name)
			}
			if !slices.Contains(build.Functionaries, name) {
				return nil, fmt.Errorf("slsa: %s functionary %q is not a functionary of build step %q", field, name, s.Build)
			}
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		return out, nil
	}
	var err error
	if d.Hosted, err = keyids("hosted", s.Hosted); err != nil {
		return nil, err
	}
	if d.Hardened, err = keyids("hardened", s.Hardened); err != nil {
		return nil, err
	}
	for _, name := range s.Hardened {
		if !slices.Contains(d.Hosted, ids[name]) {
			return nil, fmt.Errorf("slsa: hardened functionary %q is not also hosted (a hardened build platform is a hosted one: list it under both)", name)
		}
	}
	return d, nil
}
