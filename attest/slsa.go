package attest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/referee-dev/referee/internal/lazyre"
)

// slsaPrefix starts the readme line in which a layout carries its owner's
// SLSA declaration, as it carries its version (see versionPrefix): the
// in-toto v1.0 layout has no field for it and the references refuse
// unknown fields, so the signed readme is where it lives. The line is
//
//	referee-slsa: build=STEP [hosted=KEYID,…] [hardened=KEYID,…]
//
// with the fields in any order, each at most once, separated by one
// space. STEP is written bare when it is letters, digits and ._:@+- only,
// otherwise as a double-quoted Go string ("my build"). A keyid is either
// generation of a layout key's id (Key.HasID).
const slsaPrefix = "referee-slsa:"

// SLSADeclaration is what a layout's owner declares about the SLSA v1.0
// Build track (https://slsa.dev/spec/v1.0/levels): which step is the
// build, and which of its functionaries are hosted build platforms and
// which of those are hardened. The owner signs it with the layout, so
// that the level a verification supports is declared, not guessed.
type SLSADeclaration struct {
	// Build is the step whose links are the build's provenance.
	Build string
	// Hosted are the keyids of functionaries that are hosted build
	// platforms (SLSA Build L2).
	Hosted []string
	// Hardened are the keyids of functionaries that are hardened build
	// platforms (SLSA Build L3); each is also hosted.
	Hardened []string

	// hosted and hardened are the layout keyids each declared keyid
	// answers to, filled by Layout.SLSA and Layout.SetSLSA.
	hosted, hardened map[string]bool
}

// IsHosted reports whether keyid, a keyid of the layout the declaration
// was read from (Layout.SLSA) or set on (Layout.SetSLSA), is declared a
// hosted build platform.
func (d *SLSADeclaration) IsHosted(keyid string) bool { return d.hosted[keyid] }

// IsHardened reports whether keyid, a keyid of the layout, is declared a
// hardened build platform.
func (d *SLSADeclaration) IsHardened(keyid string) bool { return d.hardened[keyid] }

// String returns the declaration's readme line.
func (d *SLSADeclaration) String() string {
	b := slsaPrefix + " build=" + slsaStep(d.Build)
	if len(d.Hosted) > 0 {
		b += " hosted=" + strings.Join(d.Hosted, ",")
	}
	if len(d.Hardened) > 0 {
		b += " hardened=" + strings.Join(d.Hardened, ",")
	}
	return b
}

var slsaBareStep = lazyre.New(`^[A-Za-z0-9._:@+-]+$`)

func slsaStep(name string) string {
	if slsaBareStep().MatchString(name) {
		return name
	}
	return strconv.Quote(name)
}

// SLSA returns the layout's SLSA declaration, nil when its readme has
// none. A readme line that starts with referee-slsa but does not parse, a
// second such line, a build step the layout does not have, or a keyid that
// is not a functionary of the build step is an error: a declaration is
// never silently ignored.
func (l *Layout) SLSA() (*SLSADeclaration, error) {
	var found []string
	for line := range strings.SplitSeq(l.Readme, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), strings.TrimSuffix(slsaPrefix, ":")) {
			found = append(found, line)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("readme has %d %s lines; a layout declares its build once", len(found), slsaPrefix)
	}
	d, err := parseSLSALine(found[0])
	if err != nil {
		return nil, fmt.Errorf("readme line %q: %w", clip(found[0]), err)
	}
	if err := d.resolve(l); err != nil {
		return nil, fmt.Errorf("readme line %q: %w", clip(found[0]), err)
	}
	return d, nil
}

// SetSLSA records d in the layout's readme, replacing an earlier
// declaration (nil removes it), after checking it against the layout as
// SLSA does.
func (l *Layout) SetSLSA(d *SLSADeclaration) error {
	var kept []string
	for line := range strings.SplitSeq(l.Readme, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), strings.TrimSuffix(slsaPrefix, ":")) {
			kept = append(kept, line)
		}
	}
	readme := strings.TrimRight(strings.Join(kept, "\n"), "\n")
	if d == nil {
		l.Readme = readme
		return nil
	}
	if err := d.resolve(l); err != nil {
		return err
	}
	// Round-trip: what is written must read back as exactly d.
	back, err := parseSLSALine(d.String())
	if err != nil {
		return err
	}
	if back.Build != d.Build || !slices.Equal(back.Hosted, d.Hosted) || !slices.Equal(back.Hardened, d.Hardened) {
		return errors.New("the SLSA declaration cannot be written as a readme line")
	}
	if readme != "" {
		readme += "\n"
	}
	l.Readme = readme + d.String()
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// parseSLSALine reads a referee-slsa line strictly.
func parseSLSALine(line string) (*SLSADeclaration, error) {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, " \t\r"), slsaPrefix+" ")
	if !ok {
		return nil, fmt.Errorf("want %q at the start of the line", slsaPrefix+" build=STEP")
	}
	d := &SLSADeclaration{}
	seen := map[string]bool{}
	for {
		key, after, ok := strings.Cut(rest, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("%q is not FIELD=VALUE (fields: build, hosted, hardened; one space between them)", clip(rest))
		}
		if seen[key] {
			return nil, fmt.Errorf("%s is given twice", key)
		}
		seen[key] = true
		var value string
		if key == "build" && strings.HasPrefix(after, `"`) {
			q, err := strconv.QuotedPrefix(after)
			if err != nil {
				return nil, fmt.Errorf("build step %s is not a quoted string", clip(after))
			}
			value, _ = strconv.Unquote(q)
			rest = after[len(q):]
		} else {
			value, rest, _ = strings.Cut(after, " ")
			if rest != "" || strings.HasSuffix(after, " ") {
				rest = " " + rest
			}
			if key == "build" && value != "" && !slsaBareStep().MatchString(value) {
				return nil, fmt.Errorf("build step %q: a name with characters other than letters, digits and ._:@+- is written quoted (build=%s)", value, strconv.Quote(value))
			}
		}
		switch key {
		case "build":
			if value == "" {
				return nil, errors.New("build names no step")
			}
			if err := ValidateStepName(value); err != nil {
				return nil, fmt.Errorf("build: %w", err)
			}
			d.Build = value
		case "hosted", "hardened":
			ids, err := slsaKeyIDs(key, value)
			if err != nil {
				return nil, err
			}
			if key == "hosted" {
				d.Hosted = ids
			} else {
				d.Hardened = ids
			}
		default:
			return nil, fmt.Errorf("unknown field %q (fields: build, hosted, hardened)", key)
		}
		if rest == "" {
			break
		}
		next, ok := strings.CutPrefix(rest, " ")
		if !ok || next == "" || next[0] == ' ' || next[0] == '\t' {
			return nil, fmt.Errorf("after %s, want one space and the next field", key)
		}
		rest = next
	}
	if d.Build == "" {
		return nil, errors.New("build=STEP is missing")
	}
	return d, nil
}

func slsaKeyIDs(field, value string) ([]string, error) {
	if value == "" {
		return nil, fmt.Errorf("%s lists no keyid (leave the field out instead)", field)
	}
	ids := strings.Split(value, ",")
	for i, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("%s has an empty keyid", field)
		}
		if strings.ContainsAny(id, `"'=`) {
			return nil, fmt.Errorf("%s: %q is not a keyid", field, clip(id))
		}
		if slices.Contains(ids[:i], id) {
			return nil, fmt.Errorf("%s lists keyid %s twice", field, short(id))
		}
	}
	return ids, nil
}

// resolve checks d against l — the build step exists, every keyid is a
// functionary of it, every hardened platform is also hosted — and fills
// the layout keyids each declared keyid answers to.
func (d *SLSADeclaration) resolve(l *Layout) error {
	if d.Build == "" {
		return errors.New("the SLSA declaration names no build step")
	}
	step := l.Step(d.Build)
	if step == nil {
		for _, in := range l.Inspect {
			if in.Name == d.Build {
				return fmt.Errorf("build %q is an inspection, not a step (the build is a step functionaries sign links for)", d.Build)
			}
		}
		return fmt.Errorf("build step %q is not a step of the layout", d.Build)
	}
	// answers lists the layout keyids a declared keyid answers to.
	answers := func(field, id string) ([]string, error) {
		var out []string
		for kid, k := range l.Keys {
			if kid == id || (k != nil && k.HasID(id)) {
				out = append(out, kid)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s keyid %s is not a key of the layout", field, short(id))
		}
		if !slices.ContainsFunc(out, func(kid string) bool { return slices.Contains(step.PubKeys, kid) }) {
			return nil, fmt.Errorf("%s keyid %s is not a functionary of build step %q", field, short(id), d.Build)
		}
		return out, nil
	}
	hosted, hardened := map[string]bool{}, map[string]bool{}
	for _, id := range d.Hosted {
		kids, err := answers("hosted", id)
		if err != nil {
			return err
		}
		for _, kid := range kids {
			hosted[kid] = true
		}
	}
	for _, id := range d.Hardened {
		kids, err := answers("hardened", id)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(kids, func(kid string) bool { return hosted[kid] }) {
			return fmt.Errorf("hardened keyid %s is not also hosted (a hardened build platform is a hosted one: list it under both)", short(id))
		}
		for _, kid := range kids {
			hardened[kid] = true
		}
	}
	d.hosted, d.hardened = hosted, hardened
	return nil
}
