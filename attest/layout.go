package attest

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// TimeFormat is how in-toto writes a layout's expiry (ISO 8601, UTC).
const TimeFormat = "2006-01-02T15:04:05Z"

// Layout is an in-toto v1.0 layout. See
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#43-file-formats-layout.
type Layout struct {
	Type    string          `json:"_type"`
	Expires string          `json:"expires"`
	Readme  string          `json:"readme"`
	Keys    map[string]*Key `json:"keys"`
	Steps   []Step          `json:"steps"`
	Inspect []Inspection    `json:"inspect"`
}

// Step is a layout step: who may perform it, how many must, and the rules
// its materials and products obey.
type Step struct {
	Type              string     `json:"_type"`
	Name              string     `json:"name"`
	Threshold         int        `json:"threshold"`
	PubKeys           []string   `json:"pubkeys"`
	ExpectedCommand   []string   `json:"expected_command"`
	ExpectedMaterials [][]string `json:"expected_materials"`
	ExpectedProducts  [][]string `json:"expected_products"`
}

// Inspection is a command the verifier runs itself, with rules for what it
// finds on disk.
type Inspection struct {
	Type              string     `json:"_type"`
	Name              string     `json:"name"`
	Run               []string   `json:"run"`
	ExpectedMaterials [][]string `json:"expected_materials"`
	ExpectedProducts  [][]string `json:"expected_products"`
}

// ExpiresAt parses the layout's expiry.
func (l *Layout) ExpiresAt() (time.Time, error) {
	t, err := time.Parse(time.RFC3339, l.Expires)
	if err != nil {
		return time.Time{}, fmt.Errorf("expires %q is not an ISO 8601 time such as 2030-01-01T00:00:00Z", l.Expires)
	}
	return t, nil
}

// layoutJSON is a layout as its payload holds it: the keys not yet read.
type layoutJSON struct {
	Layout
	Keys map[string]json.RawMessage `json:"keys"`
}

// ParseLayout decodes a layout payload (the "signed" object or DSSE payload)
// and validates it: CheckJSON with the fixed fields of layouts, steps,
// inspections and keys (unknown fields and case variants refused), types, keys whose keyids match their material, unique
// names, thresholds, and every artifact rule.
func ParseLayout(payload []byte) (*Layout, error) {
	if err := CheckJSON(payload, layoutSchema); err != nil {
		return nil, err
	}
	var aux layoutJSON
	// json/v1 of go-json-experiment decodes as encoding/json does, and a
	// 500-step layout in 2.7 ms instead of 4 (TestLayoutDecodesAsEncodingJSON).
	if err := jsonv1.Unmarshal(payload, &aux); err != nil {
		return nil, fmt.Errorf("layout: %w", jsonError(err))
	}
	l := aux.Layout
	if l.Type != "layout" {
		return nil, fmt.Errorf("_type is %q, not \"layout\"", l.Type)
	}
	l.Keys = make(map[string]*Key, len(aux.Keys))
	for id, raw := range aux.Keys {
		k, err := KeyFromLayout(id, raw)
		if err != nil {
			return nil, fmt.Errorf("layout keys: %w", err)
		}
		l.Keys[id] = k
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Validate checks a layout's structure as in-toto's layout validation does,
// and more strictly: rules that name an unknown step are refused.
func (l *Layout) Validate() error {
	if _, err := l.ExpiresAt(); err != nil {
		return err
	}
	if _, err := l.Version(); err != nil {
		return err
	}
	names := map[string]string{}
	for i, s := range l.Steps {
		if s.Type != "step" {
			return fmt.Errorf("step %d (%q): _type is %q, not \"step\"", i, s.Name, s.Type)
		}
		if err := checkName(names, "step", s.Name); err != nil {
			return err
		}
		if s.Threshold < 1 {
			return fmt.Errorf("step %q: threshold %d is below 1 (it is how many functionaries must sign)", s.Name, s.Threshold)
		}
		distinct := map[string]bool{}
		for _, id := range s.PubKeys {
			if l.Keys[id] == nil {
				return fmt.Errorf("step %q: functionary key %s is not in the layout's keys", s.Name, id)
			}
			distinct[id] = true
		}
		switch {
		case len(distinct) == 0:
			return fmt.Errorf("step %q has no functionary keys (threshold %d needs at least %d)", s.Name, s.Threshold, s.Threshold)
		case s.Threshold > len(distinct):
			return fmt.Errorf("step %q: threshold %d is more than its %d distinct functionary keys", s.Name, s.Threshold, len(distinct))
		}
	}
	for i, in := range l.Inspect {
		if in.Type != "inspection" {
			return fmt.Errorf("inspection %d (%q): _type is %q, not \"inspection\"", i, in.Name, in.Type)
		}
		if err := checkName(names, "inspection", in.Name); err != nil {
			return err
		}
		if len(in.Run) == 0 {
			return fmt.Errorf("inspection %q: run is empty", in.Name)
		}
	}
	for _, s := range l.Steps {
		if err := l.checkRules(names, "step", s.Name, s.ExpectedMaterials, s.ExpectedProducts); err != nil {
			return err
		}
	}
	for _, in := range l.Inspect {
		if err := l.checkRules(names, "inspection", in.Name, in.ExpectedMaterials, in.ExpectedProducts); err != nil {
			return err
		}
	}
	return nil
}

func checkName(seen map[string]string, kind, name string) error {
	if name == "" {
		return fmt.Errorf("a %s has no name", kind)
	}
	if prev, ok := seen[name]; ok {
		return fmt.Errorf("%s %q: name already used by a %s", kind, name, prev)
	}
	seen[name] = kind
	return nil
}

// checkRules checks the rules of the step or inspection name; names holds
// every step and inspection of the layout, which MATCH may refer to, as in
// the Python reference.
func (l *Layout) checkRules(names map[string]string, kind, name string, materials, products [][]string) error {
	for _, set := range []struct {
		what  string
		rules [][]string
	}{{"expected_materials", materials}, {"expected_products", products}} {
		for _, tokens := range set.rules {
			r, err := ParseRule(tokens)
			if err != nil {
				return fmt.Errorf("%s %q %s: %w", kind, name, set.what, err)
			}
			if set.what == "expected_materials" && r.Verb == RuleCreate {
				return fmt.Errorf("%s %q %s: CREATE applies to products only", kind, name, set.what)
			}
			if set.what == "expected_products" && r.Verb == RuleDelete {
				return fmt.Errorf("%s %q %s: DELETE applies to materials only", kind, name, set.what)
			}
			if _, ok := names[r.DstStep]; r.Verb == RuleMatch && !ok {
				return fmt.Errorf("%s %q %s: rule %q names step %q, which the layout does not have", kind, name, set.what, r.String(), r.DstStep)
			}
		}
	}
	return nil
}

// Step returns the step called name, or nil.
func (l *Layout) Step(name string) *Step {
	for i := range l.Steps {
		if l.Steps[i].Name == name {
			return &l.Steps[i]
		}
	}
	return nil
}

// KeyIDs lists the layout's keyids in order.
func (l *Layout) KeyIDs() []string {
	ids := make([]string, 0, len(l.Keys))
	for id := range l.Keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Marshal encodes the layout as a payload, with empty lists written as []
// rather than null, as the references expect.
func (l *Layout) Marshal() ([]byte, error) {
	c := *l
	c.Type = "layout"
	if c.Keys == nil {
		c.Keys = map[string]*Key{}
	}
	// Copies of the steps and inspections, which are filled in below: l
	// is not changed (a layout from Envelope.ParsedLayout is shared).
	c.Steps = append([]Step{}, c.Steps...)
	c.Inspect = append([]Inspection{}, c.Inspect...)
	for i := range c.Steps {
		s := &c.Steps[i]
		s.Type = "step"
		s.PubKeys = nonNil(s.PubKeys)
		s.ExpectedCommand = nonNil(s.ExpectedCommand)
		s.ExpectedMaterials = nonNilRules(s.ExpectedMaterials)
		s.ExpectedProducts = nonNilRules(s.ExpectedProducts)
	}
	for i := range c.Inspect {
		in := &c.Inspect[i]
		in.Type = "inspection"
		in.ExpectedMaterials = nonNilRules(in.ExpectedMaterials)
		in.ExpectedProducts = nonNilRules(in.ExpectedProducts)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return marshalPayload(c)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilRules(s [][]string) [][]string {
	if s == nil {
		return [][]string{}
	}
	return s
}
