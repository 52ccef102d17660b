package oci

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/referee-dev/referee/attest"
)

// Written is one file Pull wrote.
type Written struct {
	Path     string `json:"path"`
	Referrer string `json:"referrer"`
}

// PullResult lists what Pull wrote and what it left out.
type PullResult struct {
	Files   []Written `json:"files"`
	Skipped []Skipped `json:"skipped,omitempty"`
}

// WriteBundle writes a bundle as the files in-toto-verify expects in dir:
// root.layout (or root.DIGEST12.layout for each of several layouts, since
// choosing among them is verification's business), STEP.KEYID8.link for
// each link, and a sublayout's links in STEP.KEYID8/. Where re-runs give
// two links one file name, the newest is written and the others are
// reported as skipped. Files are written atomically; existing files are
// replaced.
func WriteBundle(b *Bundle, dir string) (*PullResult, error) {
	res := &PullResult{Skipped: append([]Skipped(nil), b.Skipped...)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, l := range b.Layouts {
		name := "root.layout"
		if len(b.Layouts) > 1 {
			name = "root." + strings.TrimPrefix(l.Referrer.Digest, "sha256:")[:12] + ".layout"
		}
		if err := writeDoc(res, dir, name, l); err != nil {
			return nil, err
		}
	}
	if err := writeLinks(res, dir, b.Links); err != nil {
		return nil, err
	}
	return res, nil
}

func writeLinks(res *PullResult, dir string, docs []*Document) error {
	taken := map[string]string{}
	for _, d := range docs {
		if prev, ok := taken[d.FileName]; ok {
			res.Skipped = append(res.Skipped, Skipped{Digest: d.Referrer.Digest, Reason: fmt.Sprintf("%s is already taken by the newer %s", d.FileName, prev)})
			continue
		}
		taken[d.FileName] = d.Referrer.Digest
		if err := writeDoc(res, dir, d.FileName, d); err != nil {
			return err
		}
		if d.Kind == "layout" && len(d.Sub) > 0 {
			sub := filepath.Join(dir, strings.TrimSuffix(d.FileName, ".link"))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
			if err := writeLinks(res, sub, d.Sub); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeDoc(res *PullResult, dir, name string, d *Document) error {
	if name != filepath.Base(name) || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		// Step names come from signed content or annotations: never let
		// one climb out of dir.
		res.Skipped = append(res.Skipped, Skipped{Digest: d.Referrer.Digest, Reason: fmt.Sprintf("file name %q is not a plain name", name)})
		return nil
	}
	p := filepath.Join(dir, name)
	if err := attest.WriteFileAtomic(p, d.Raw, 0o644, true); err != nil {
		return err
	}
	res.Files = append(res.Files, Written{Path: p, Referrer: d.Referrer.Digest})
	return nil
}
