package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/lazyre"
)

// linkName matches in-toto's link file names, STEP.KEYID8.link. Inspection
// links (NAME.link, unsigned, written by in-toto-verify into its working
// directory) do not match and are not evidence.
var linkName = lazyre.New(`^(.+)\.([0-9a-f]{8})\.link$`)

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
	files, err := listLinkFiles(dir, depth)
	if err != nil {
		return nil, err
	}
	var out []Evidence
	for _, f := range files {
		env, err := attest.ReadEnvelopeFile(f.path, attest.DefaultMaxFileSize)
		if err != nil {
			return nil, err
		}
		ev := Evidence{Source: f.path, Envelope: env, StepHint: f.step}
		if kind, err := env.PayloadKind(); err == nil && kind == "layout" && f.subdir != "" {
			if ev.Sub, err = loadLinkDir(f.subdir, depth+1); err != nil {
				return nil, err
			}
		}
		out = append(out, ev)
	}
	return out, nil
}

// linkFile is a link file of a directory, as listLinkFiles finds it.
type linkFile struct {
	path, step string
	size       int64  // from the directory listing; 0 if unknown
	subdir     string // the directory STEP.KEYID8 beside it, "" if none
}

// listLinkFiles lists dir's link files (STEP.KEYID8.link, regular files),
// sorted by name, for LoadLinkDir and OpenLinkDir: at most maxLinkFiles,
// in sublayout directories at most 8 deep.
func listLinkFiles(dir string, depth int) ([]linkFile, error) {
	if depth > 8 {
		return nil, fmt.Errorf("%s: sublayout directories nested deeper than 8", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading link directory: %w", err)
	}
	var files []linkFile
	for _, e := range entries {
		m := linkName().FindStringSubmatch(e.Name())
		if !e.Type().IsRegular() || m == nil {
			continue
		}
		f := linkFile{path: filepath.Join(dir, e.Name()), step: m[1]}
		if info, err := e.Info(); err == nil {
			f.size = info.Size()
		}
		if st, err := os.Stat(filepath.Join(dir, m[1]+"."+m[2])); err == nil && st.IsDir() {
			f.subdir = filepath.Join(dir, m[1]+"."+m[2])
		}
		files = append(files, f)
		if len(files) > maxLinkFiles {
			return nil, fmt.Errorf("%s: more than %d link files", dir, maxLinkFiles)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, nil
}
