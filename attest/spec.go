package attest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/referee-dev/referee/internal/lazyre"
)

// Spec is the readable YAML from which `referee layout create` builds a
// layout. Functionaries name public-key files; rules are written on one
// line each, as in in-toto ("MATCH src/* WITH PRODUCTS FROM checkout").
// Sublayouts are steps whose functionary signs a layout instead of a link;
// they are listed apart for the reader and become ordinary layout steps.
//
// SLSA, optional, declares for the SLSA v1.0 Build track
// (https://slsa.dev/spec/v1.0/levels) which step is the build and which
// of its functionaries are hosted and hardened build platforms:
//
//	slsa:
//	  build: build      # a step (or sublayout) of the spec
//	  hosted: [ci]      # functionaries of that step (L2)
//	  hardened: [ci]    # each also hosted (L3)
//
// The layout carries it as a line of its readme,
// "referee-slsa: build=build hosted=KEYID hardened=KEYID" (see
// Layout.SLSA), so the owner's signature covers it.
type Spec struct {
	Expires string `yaml:"expires"`
	// Version orders the layouts of one supply chain: verification from a
	// registry uses the highest (see Layout.Version).
	Version       int               `yaml:"version"`
	Readme        string            `yaml:"readme"`
	Functionaries map[string]string `yaml:"functionaries"`
	Steps         []SpecStep        `yaml:"steps"`
	Sublayouts    []SpecStep        `yaml:"sublayouts"`
	Inspections   []SpecInspection  `yaml:"inspections"`
	SLSA          *SpecSLSA         `yaml:"slsa"`
}

// SpecStep is one step of a Spec.
type SpecStep struct {
	Name              string      `yaml:"name"`
	ExpectedCommand   CommandLine `yaml:"expected_command"`
	Threshold         int         `yaml:"threshold"`
	Functionaries     []string    `yaml:"functionaries"`
	ExpectedMaterials []string    `yaml:"expected_materials"`
	ExpectedProducts  []string    `yaml:"expected_products"`
}

// SpecInspection is one inspection of a Spec.
type SpecInspection struct {
	Name              string      `yaml:"name"`
	Run               CommandLine `yaml:"run"`
	ExpectedMaterials []string    `yaml:"expected_materials"`
	ExpectedProducts  []string    `yaml:"expected_products"`
}

// CommandLine is a command written either as a YAML list of arguments or as
// one string split into words as a POSIX shell would (quotes, backslashes).
type CommandLine []string

// UnmarshalYAML accepts a string or a list of strings.
func (c *CommandLine) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		words, err := SplitCommand(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*c = words
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return fmt.Errorf("line %d: a command is a string or a list of strings", n.Line)
	}
	*c = list
	return nil
}

// maxSpecSize bounds the YAML a spec may be, against alias bombs and the like.
const maxSpecSize = 1 << 20

// ParseSpec reads a layout spec, refusing unknown fields so that a typo
// (expected_product) is an error rather than a rule silently dropped.
// Errors are one line, start with the line of the spec they are about when
// there is one ("line 12: unknown field …"), and do not name the file: the
// caller does.
func ParseSpec(data []byte) (*Spec, error) {
	if len(data) > maxSpecSize {
		return nil, fmt.Errorf("spec is %d bytes, more than %d", len(data), maxSpecSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(err)
	}
	if err := checkSpecNode(&doc); err != nil {
		return nil, err
	}
	// The check above speaks the spec's words; decoding with KnownFields
	// still catches whatever it leaves to the decoder (aliases, merges).
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	if s.Expires == "" {
		return nil, errors.New("expires is missing (e.g. expires: 6mo, or 2030-01-01T00:00:00Z)")
	}
	for _, st := range append(append([]SpecStep(nil), s.Steps...), s.Sublayouts...) {
		for _, r := range append(append([]string(nil), st.ExpectedMaterials...), st.ExpectedProducts...) {
			if _, err := ParseRuleString(r); err != nil {
				return nil, fmt.Errorf("step %q: %w", st.Name, err)
			}
		}
	}
	for _, in := range s.Inspections {
		for _, r := range append(append([]string(nil), in.ExpectedMaterials...), in.ExpectedProducts...) {
			if _, err := ParseRuleString(r); err != nil {
				return nil, fmt.Errorf("inspection %q: %w", in.Name, err)
			}
		}
	}
	return &s, nil
}

var relExpiry = lazyre.New(`^(\d+)(y|mo|w|d|h|m)`)

// ParseExpiry reads an expiry: an RFC 3339 time, or a duration from now such
// as "6mo", "1y", "2w", "30d", "12h", or a sum of them ("1y6mo").
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	t, err := parseExpiry(s, now)
	if err != nil {
		return time.Time{}, err
	}
	// An expiry in the past makes a layout that can never verify, and one
	// past year 9999 cannot be written in the layout's time format.
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("expires %q is not in the future", s)
	}
	if t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("expires %q is after the year 9999", s)
	}
	return t, nil
}

func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Truncate(time.Second), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	if s == "" {
		return time.Time{}, errors.New("expires is empty")
	}
	rest, t := s, now.UTC()
	for rest != "" {
		m := relExpiry().FindStringSubmatch(rest)
		if m == nil {
			return time.Time{}, fmt.Errorf("expires %q: want a time (2030-01-01T00:00:00Z) or a duration such as 6mo, 1y, 2w, 30d, 12h", s)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return time.Time{}, fmt.Errorf("expires %q: number too large", s)
		}
		switch m[2] {
		case "y":
			t = t.AddDate(n, 0, 0)
		case "mo":
			t = t.AddDate(0, n, 0)
		case "w":
			t = t.AddDate(0, 0, 7*n)
		case "d":
			t = t.AddDate(0, 0, n)
		case "h":
			t = t.Add(time.Duration(n) * time.Hour)
		case "m":
			t = t.Add(time.Duration(n) * time.Minute)
		}
		rest = rest[len(m[0]):]
	}
	return t.Truncate(time.Second), nil
}

// Layout builds the layout the spec describes. loadKey reads a
// functionary's public-key file (paths are as written in the spec).
func (s *Spec) Layout(loadKey func(path string) (*Key, error), now time.Time) (*Layout, error) {
	exp, err := ParseExpiry(s.Expires, now)
	if err != nil {
		return nil, err
	}
	l := &Layout{Type: "layout", Expires: exp.Format(TimeFormat), Readme: s.Readme, Keys: map[string]*Key{}}
	if s.Version < 0 {
		return nil, fmt.Errorf("version %d is negative", s.Version)
	}
	if s.Version > 0 {
		l.SetVersion(s.Version)
	}
	ids := map[string]string{}
	for name, path := range s.Functionaries {
		k, err := loadKey(path)
		if err != nil {
			return nil, fmt.Errorf("functionary %q: %w", name, err)
		}
		ids[name] = k.KeyID
		l.Keys[k.KeyID] = k
	}
	for _, st := range append(append([]SpecStep(nil), s.Steps...), s.Sublayouts...) {
		if err := ValidateStepName(st.Name); err != nil {
			return nil, err
		}
		step := Step{Type: "step", Name: st.Name, Threshold: st.Threshold, ExpectedCommand: st.ExpectedCommand}
		if step.Threshold == 0 {
			step.Threshold = 1
		}
		if step.PubKeys, err = stepKeys(st, step.Threshold, ids); err != nil {
			return nil, err
		}
		if step.ExpectedMaterials, err = ruleTokens(st.ExpectedMaterials); err != nil {
			return nil, fmt.Errorf("step %q: %w", st.Name, err)
		}
		if step.ExpectedProducts, err = ruleTokens(st.ExpectedProducts); err != nil {
			return nil, fmt.Errorf("step %q: %w", st.Name, err)
		}
		l.Steps = append(l.Steps, step)
	}
	for _, si := range s.Inspections {
		in := Inspection{Type: "inspection", Name: si.Name, Run: signedByKeyIDs(si.Run, ids)}
		if in.ExpectedMaterials, err = ruleTokens(si.ExpectedMaterials); err != nil {
			return nil, fmt.Errorf("inspection %q: %w", si.Name, err)
		}
		if in.ExpectedProducts, err = ruleTokens(si.ExpectedProducts); err != nil {
			return nil, fmt.Errorf("inspection %q: %w", si.Name, err)
		}
		l.Inspect = append(l.Inspect, in)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if err := s.setSLSA(l, ids); err != nil {
		return nil, err
	}
	return l, nil
}

// setSLSA records the spec's SLSA declaration in l's readme, or checks
// the one its readme already has: a malformed one is an error here, not a
// layout that verifies at a level nobody meant.
func (s *Spec) setSLSA(l *Layout, ids map[string]string) error {
	inReadme, err := l.SLSA()
	if err != nil {
		return err
	}
	if s.SLSA == nil {
		return nil
	}
	if inReadme != nil {
		return fmt.Errorf("the readme has a %s line and the spec an slsa field: declare it once, under slsa", slsaPrefix)
	}
	d, err := s.SLSA.declaration(s, ids)
	if err != nil {
		return err
	}
	return l.SetSLSA(d)
}

// stepKeys returns the distinct keyids of a step's functionaries, and
// checks, in the spec's terms, that there are enough of them for its
// threshold.
func stepKeys(st SpecStep, threshold int, ids map[string]string) ([]string, error) {
	if threshold < 1 {
		return nil, fmt.Errorf("step %q: threshold %d is below 1 (it is how many functionaries must sign)", st.Name, threshold)
	}
	if len(st.Functionaries) == 0 {
		return nil, fmt.Errorf("step %q has no functionaries (threshold %d needs at least %d %s)", st.Name, threshold, threshold, plural(threshold, "key", "keys"))
	}
	var keys []string
	by := map[string]string{} // keyid → the first functionary with it
	same := ""
	for _, f := range st.Functionaries {
		id, ok := ids[f]
		if !ok {
			return nil, fmt.Errorf("step %q: functionary %q is not under functionaries", st.Name, f)
		}
		if prev, dup := by[id]; dup {
			if same == "" && prev == f {
				same = fmt.Sprintf(" (%s is listed twice)", f)
			} else if same == "" {
				same = fmt.Sprintf(" (%s and %s have the same key)", prev, f)
			}
			continue
		}
		by[id] = f
		keys = append(keys, id)
	}
	if threshold > len(keys) {
		return nil, fmt.Errorf("step %q: threshold %d needs %d functionaries with different keys, but it has %d%s", st.Name, threshold, threshold, len(keys), same)
	}
	return keys, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func ruleTokens(rules []string) ([][]string, error) {
	out := make([][]string, 0, len(rules))
	for _, r := range rules {
		pr, err := ParseRuleString(r)
		if err != nil {
			return nil, err
		}
		out = append(out, pr.Tokens())
	}
	return out, nil
}

// SplitCommand splits a command line into words with POSIX shell quoting:
// single quotes keep everything, double quotes keep everything but
// backslash escapes of $ ` " \, and a backslash outside quotes escapes the
// next character. No expansion happens. Written here because it is a few
// lines and the shell-splitting modules on the proxy are unmaintained.
func SplitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(string(rs[i+1 : j]))
			i, inWord = j, true
		case c == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("$`\"\\", rs[j+1]) {
					j++
				}
				cur.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			i, inWord = j, true
		case c == '\\':
			if i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
			}
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// signedByKeyIDs returns run with the value of each --signed-by that
// names a functionary of the spec replaced by its keyid: a native check
// (referee check --attestation T --signed-by NAME) names the key that
// must have signed, and the layout, which has no names, says it by keyid.
func signedByKeyIDs(run []string, ids map[string]string) []string {
	out := append([]string(nil), run...)
	for i, a := range out {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--signed-by="); ok {
			if id, known := ids[v]; known {
				out[i] = "--signed-by=" + id
			}
		} else if a == "--signed-by" && i+1 < len(out) {
			if id, known := ids[out[i+1]]; known {
				out[i+1] = id
			}
		}
	}
	return out
}
