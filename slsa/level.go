// Package slsa says which SLSA v1.0 Build track level
// (https://slsa.dev/spec/v1.0/levels) the verified evidence of a supply
// chain supports. Which step is the build and which of its functionaries
// are hosted or hardened build platforms is declared by the layout's
// owner in the signed layout (attest.Layout.SLSA), never guessed; what
// counts is only what verification counted: the build step's links and
// the keys whose signatures on them verified.
package slsa

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/verify"
)

// BuildLevel is a level of the SLSA v1.0 Build track, 0 to 3.
type BuildLevel int

// The Build track's levels (https://slsa.dev/spec/v1.0/levels).
const (
	BuildLevel0 BuildLevel = iota // no guarantees
	BuildLevel1                   // provenance exists
	BuildLevel2                   // provenance signed by a hosted build platform
	BuildLevel3                   // a hardened build platform
)

// MaxBuildLevel is the highest level of the Build track in SLSA v1.0.
const MaxBuildLevel = BuildLevel3

const levelPrefix = "SLSA_BUILD_LEVEL_"

// String names the level as a SLSA Verification Summary does
// (https://slsa.dev/spec/v1.0/verification_summary): SLSA_BUILD_LEVEL_N.
func (l BuildLevel) String() string { return levelPrefix + strconv.Itoa(int(l)) }

// MarshalText writes the level as String does.
func (l BuildLevel) MarshalText() ([]byte, error) {
	if l < BuildLevel0 || l > MaxBuildLevel {
		return nil, fmt.Errorf("SLSA build level %d is not 0 to %d", int(l), int(MaxBuildLevel))
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads a level as ParseBuildLevel does.
func (l *BuildLevel) UnmarshalText(b []byte) error {
	v, err := ParseBuildLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ParseBuildLevel reads SLSA_BUILD_LEVEL_0 to SLSA_BUILD_LEVEL_3.
func ParseBuildLevel(s string) (BuildLevel, error) {
	n, ok := strings.CutPrefix(s, levelPrefix)
	if v, err := strconv.Atoi(n); ok && err == nil && len(n) == 1 && v >= 0 && v <= int(MaxBuildLevel) {
		return BuildLevel(v), nil
	}
	return 0, fmt.Errorf("%q is not a SLSA v1.0 Build level (SLSA_BUILD_LEVEL_0 to SLSA_BUILD_LEVEL_%d)", s, int(MaxBuildLevel))
}

// Requirement is one level's requirement, met or not, and why.
type Requirement struct {
	Level BuildLevel `json:"level"`
	// Name says what the level requires, in SLSA's words.
	Name   string `json:"requirement"`
	Met    bool   `json:"met"`
	Reason string `json:"reason"`
}

// Result is the Build level the verified evidence supports, with each
// level's requirement met or not.
type Result struct {
	// Level is the highest level whose requirement, and every lower
	// level's, is met.
	Level BuildLevel `json:"level"`
	// Image is the image verified, when verifying from a registry.
	Image string `json:"image,omitempty"`
	// Build is the build step the layout declares, if any.
	Build string `json:"buildStep,omitempty"`
	// Requirements are levels 1 to 3, in order.
	Requirements []Requirement `json:"requirements"`
	// Invalid says why the layout's declaration is malformed, when it is:
	// a layout error (the supply chain is then not verified).
	Invalid string `json:"invalid,omitempty"`
}

// Requirement names, as SLSA v1.0's levels table has them.
const (
	reqProvenance = "provenance exists"
	reqHosted     = "provenance signed by a hosted build platform"
	reqHardened   = "hardened build platform"
)

// Unmet returns the first requirement at or below level that is not met,
// or nil when the evidence supports level.
func (r Result) Unmet(level BuildLevel) *Requirement {
	for i := range r.Requirements {
		if q := &r.Requirements[i]; q.Level <= level && !q.Met {
			return q
		}
	}
	if level > r.Level {
		// Not reached with a Result from Level; said rather than passed.
		return &Requirement{Level: level, Reason: fmt.Sprintf("the evidence supports %s", r.Level)}
	}
	return nil
}

// Level returns the SLSA v1.0 Build level that r, a report of the
// verification of layout, supports: L1 when the layout's declared build
// step verified (its links counted), L2 when a counted link of it is
// signed by a functionary the layout declares hosted, L3 when by one it
// declares hardened. A report that is not verified supports L0, as does a
// layout that declares no build step; a malformed declaration is L0 with
// Result.Invalid set. layout must be the layout r verified (the one whose
// payload digest is r.Layout.Digest).
func Level(layout *attest.Layout, r *verify.Report) Result {
	res := Result{}
	if r != nil {
		res.Image = r.Image
	}
	all := func(reason string) Result {
		res.Requirements = []Requirement{
			{Level: BuildLevel1, Name: reqProvenance, Reason: reason},
			{Level: BuildLevel2, Name: reqHosted, Reason: reason},
			{Level: BuildLevel3, Name: reqHardened, Reason: reason},
		}
		return res
	}
	if r == nil || !r.Verified {
		why := "the supply chain is not verified"
		if r != nil && len(r.Failures) > 0 {
			why += ": " + r.Failures[0].Error()
		}
		return all(why)
	}
	if layout == nil {
		return all("the supply chain is not verified: no layout")
	}
	decl, err := layout.SLSA()
	if err != nil {
		res.Invalid = "invalid layout: " + err.Error()
		return all(res.Invalid)
	}
	if decl == nil {
		return all("the layout declares no build step (slsa: build: STEP in the layout spec)")
	}
	res.Build = decl.Build
	links := countedLinks(r, decl.Build)
	l1 := Requirement{Level: BuildLevel1, Name: reqProvenance}
	if len(links) == 0 {
		l1.Reason = fmt.Sprintf("the verification counted no link of build step %q", decl.Build)
	} else {
		l1.Met = true
		l1.Reason = fmt.Sprintf("build step %q verified: %s", decl.Build, describe(links))
	}
	l2 := platform(BuildLevel2, reqHosted, "hosted", decl.Build, links, decl.Hosted, decl.IsHosted)
	l3 := platform(BuildLevel3, reqHardened, "hardened", decl.Build, links, decl.Hardened, decl.IsHardened)
	res.Requirements = []Requirement{l1, l2, l3}
	for _, q := range res.Requirements {
		if !q.Met {
			break
		}
		res.Level = q.Level
	}
	return res
}

// platform checks whether a counted link of the build step is signed by a
// functionary declared kind (hosted, hardened).
func platform(level BuildLevel, name, kind, build string, links []link, declared []string, is func(string) bool) Requirement {
	q := Requirement{Level: level, Name: name}
	switch {
	case len(declared) == 0:
		q.Reason = fmt.Sprintf("the layout declares no %s build platform", kind)
		return q
	case len(links) == 0:
		q.Reason = fmt.Sprintf("the verification counted no link of build step %q", build)
		return q
	}
	for _, l := range links {
		for _, id := range l.keyIDs {
			if is(id) {
				q.Met = true
				q.Reason = fmt.Sprintf("%s of build step %q is signed by key %s, declared %s", termsafe.Quote(l.source), build, termsafe.Quote(attest.ShortKeyID(id)), kind)
				return q
			}
		}
	}
	q.Reason = fmt.Sprintf("no counted link of build step %q is signed by a functionary declared %s (%s; declared %s: %s)", build, kind, describe(links), kind, shortIDs(declared))
	return q
}

// link is a counted link of a step: where it came from and the keys whose
// signatures on it counted.
type link struct {
	source string
	keyIDs []string
}

// countedLinks is the adapter between the report and the levels: the
// links verification counted for step and their signers' keyids (layout
// keyids), read from StepReport.Used.
func countedLinks(r *verify.Report, step string) []link {
	var out []link
	for _, s := range r.Steps {
		if s.Name != step || !s.Passed {
			continue
		}
		for _, u := range s.Used {
			if len(u.KeyIDs) > 0 {
				out = append(out, link{source: u.Source, keyIDs: u.KeyIDs})
			}
		}
	}
	return out
}

func describe(links []link) string {
	parts := make([]string, len(links))
	for i, l := range links {
		parts[i] = fmt.Sprintf("%s signed by %s", termsafe.Quote(l.source), shortIDs(l.keyIDs))
	}
	return strings.Join(parts, "; ")
}

func shortIDs(ids []string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = termsafe.Quote(attest.ShortKeyID(id))
	}
	return strings.Join(s, ", ")
}
