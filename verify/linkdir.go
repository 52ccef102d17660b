package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/referee-dev/referee/attest"
)

// linkName matches in-toto's link file names, STEP.KEYID8.link. Inspection
// links (NAME.link, unsigned, written by in-toto-verify into its working
// directory) do not match and are not evidence.
var linkName = regexp.MustCompile(`^(.+)\.([0-9a-f]{8})\.link$`)

// maxLinkFiles bounds how many link files a directory may hold.
const maxLinkFiles = 10000

// LoadLinkDir reads the link files of dir (STEP.KEYID8.link, in either
// envelope form) as evidence. A link file that holds a layout is a
// sublayout; its own links are read from the directory STEP.KEYID8 beside
// it, as in-toto-verify does.
func LoadLinkDir(dir string) ([]Evidence, error) {
	return loadLinkDir(dir, 0)
}

func loadLinkDir(dir string, depth int) ([]Evidence, error) {
	if depth > 8 {
		return nil, fmt.Errorf("%s: sublayout directories nested deeper than 8", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading link directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && linkName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) > maxLinkFiles {
		return nil, fmt.Errorf("%s: %d link files, more than %d", dir, len(names), maxLinkFiles)
	}
	sort.Strings(names)
	var out []Evidence
	for _, n := range names {
		p := filepath.Join(dir, n)
		env, err := attest.ReadEnvelopeFile(p, attest.DefaultMaxFileSize)
		if err != nil {
			return nil, err
		}
		m := linkName.FindStringSubmatch(n)
		ev := Evidence{Source: p, Envelope: env, StepHint: m[1]}
		if kind, err := env.PayloadKind(); err == nil && kind == "layout" {
			subdir := filepath.Join(dir, m[1]+"."+m[2])
			if st, err := os.Stat(subdir); err == nil && st.IsDir() {
				if ev.Sub, err = loadLinkDir(subdir, depth+1); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, ev)
	}
	return out, nil
}

// CommandInspector runs inspections as in-toto-verify does: in Dir, with
// everything under Dir recorded as materials before and products after. A
// command that exits non-zero fails the inspection.
type CommandInspector struct {
	Dir    string
	Record attest.RecordOptions
}

var _ Inspector = (*CommandInspector)(nil)

// Inspect runs one inspection.
func (ci *CommandInspector) Inspect(ctx context.Context, in attest.Inspection) (*attest.Link, error) {
	ro := ci.Record
	ro.Dir = ci.Dir
	link, err := attest.RunStep(ctx, attest.RunOptions{StepName: in.Name, Command: in.Run, Materials: []string{"."}, Products: []string{"."}, Record: ro})
	if err != nil {
		return nil, err
	}
	if rv, _ := link.Byproducts["return-value"].(int); rv != 0 {
		return nil, fmt.Errorf("%q exited with %d: %s", in.Run[0], rv, firstLine(link.Byproducts["stderr"]))
	}
	return link, nil
}

// firstLine returns the first non-blank line of a byproduct, which is
// where tools put their reason (tar starts its stderr with a blank line).
func firstLine(v any) string {
	s, _ := v.(string)
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return "(no output on stderr)"
}
