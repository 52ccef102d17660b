package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

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
