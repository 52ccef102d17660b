package attest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/referee-dev/referee/internal/lazyre"
)

// ImageArtifact is the artifact name under which a link records an OCI
// image manifest, with the manifest's digest as its sha256. A layout binds
// its evidence to the image being verified by naming it in a step's
// expected_products (e.g. "CREATE referee:image-manifest"): verification
// from a registry then requires that step's link to record exactly the
// image's digest, so that links copied from another image do not verify it.
const ImageArtifact = "referee:image-manifest"

// versionLine is how a layout carries its version in signed content:
// a line of its readme. The in-toto v1.0 layout has no field for it, and
// the references refuse unknown fields, so the readme is the one place
// both references keep and sign.
const versionPrefix = "referee-layout-version: "

var versionRe = lazyre.New(`(?m)^` + regexp.QuoteMeta(versionPrefix) + `([0-9]+)\s*$`)

// Version returns the layout's version (0 when it has none). When several
// layouts signed by the owner are attached to one image, the highest
// version is the current one; older ones cannot be replayed (rollback).
func (l *Layout) Version() (int, error) {
	m := versionRe().FindAllStringSubmatch(l.Readme, -1)
	switch len(m) {
	case 0:
		if strings.Contains(l.Readme, versionPrefix) {
			return 0, fmt.Errorf("readme has a malformed %q line", strings.TrimSpace(versionPrefix))
		}
		return 0, nil
	case 1:
		v, err := strconv.Atoi(m[0][1])
		if err != nil || v > 1<<30 {
			return 0, fmt.Errorf("layout version %q is out of range", m[0][1])
		}
		return v, nil
	}
	return 0, fmt.Errorf("readme has %d %q lines", len(m), strings.TrimSpace(versionPrefix))
}

// SetVersion records v in the layout's readme, replacing an earlier version.
func (l *Layout) SetVersion(v int) {
	readme := strings.TrimRight(versionRe().ReplaceAllString(l.Readme, ""), "\n")
	if readme != "" {
		readme += "\n"
	}
	l.Readme = readme + versionPrefix + strconv.Itoa(v)
}

// BindingSteps returns the steps whose expected products name
// ImageArtifact literally: the steps whose links must record the image.
func (l *Layout) BindingSteps() []string {
	var out []string
	for _, s := range l.Steps {
		for _, tokens := range s.ExpectedProducts {
			if r, err := ParseRule(tokens); err == nil && r.Pattern == ImageArtifact {
				out = append(out, s.Name)
				break
			}
		}
	}
	return out
}
