package verify

import (
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
	files, err := listLinkFiles(dir, depth)
	if err != nil {
		return nil, err
	}
	var out []Evidence
	for _, f := range files {
		ev := Evidence{Source: f.path, StepHint: f.step, fileSize: f.size, open: func() (*attest.Envelope, error) {
			return attest.ReadEnvelopeFile(f.path, attest.DefaultMaxFileSize)
		}}
		if f.subdir != "" {
			env, err := attest.ReadEnvelopeFile(f.path, attest.DefaultMaxFileSize)
			if err != nil {
				return nil, err
			}
			ev.Envelope, ev.open = env, nil
			if kind, err := env.PayloadKind(); err == nil && kind == "layout" {
				if ev.Sub, err = openLinkDir(f.subdir, depth+1); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, ev)
	}
	return out, nil
}
