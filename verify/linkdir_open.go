package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/referee-dev/referee/attest"
)

// OpenLinkDir lists the link files of dir (STEP.KEYID8.link) as
// LoadLinkDir does, but each is read only when Verify examines it, and of
// a link Verify keeps only its compact form (attest.CompactLink), so that
// a directory of large links is never in memory at once: peak memory is
// the artifact tables and the links being read, not every file. A file
// that cannot be read or parsed is an error of Verify, naming the file, as
// it is of LoadLinkDir. A link file beside a directory STEP.KEYID8 is read
// at once: when it is a sublayout, its links are listed from that
// directory in the same way.
func OpenLinkDir(dir string) ([]Evidence, error) {
	return openLinkDir(dir, 0)
}

func openLinkDir(dir string, depth int) ([]Evidence, error) {
	if depth > 8 {
		return nil, fmt.Errorf("%s: sublayout directories nested deeper than 8", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading link directory: %w", err)
	}
	var names []string
	sizes := map[string]int64{}
	for _, e := range entries {
		if e.Type().IsRegular() && linkName.MatchString(e.Name()) {
			names = append(names, e.Name())
			if info, err := e.Info(); err == nil {
				sizes[e.Name()] = info.Size()
			}
		}
	}
	if len(names) > maxLinkFiles {
		return nil, fmt.Errorf("%s: %d link files, more than %d", dir, len(names), maxLinkFiles)
	}
	sort.Strings(names)
	var out []Evidence
	for _, n := range names {
		p := filepath.Join(dir, n)
		m := linkName.FindStringSubmatch(n)
		ev := Evidence{Source: p, StepHint: m[1], fileSize: sizes[n], open: func() (*attest.Envelope, error) {
			return attest.ReadEnvelopeFile(p, attest.DefaultMaxFileSize)
		}}
		subdir := filepath.Join(dir, m[1]+"."+m[2])
		if st, err := os.Stat(subdir); err == nil && st.IsDir() {
			env, err := attest.ReadEnvelopeFile(p, attest.DefaultMaxFileSize)
			if err != nil {
				return nil, err
			}
			ev.Envelope, ev.open = env, nil
			if kind, err := env.PayloadKind(); err == nil && kind == "layout" {
				if ev.Sub, err = openLinkDir(subdir, depth+1); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, ev)
	}
	return out, nil
}
