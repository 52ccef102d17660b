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
	Files []Written `json:"files"`
	// Current is the layout written as root.layout, when several were
	// attached the one verify would choose: see WriteBundle. Nil when no
	// layout is attached.
	Current *CurrentLayout `json:"current,omitempty"`
	Skipped []Skipped      `json:"skipped,omitempty"`
}

// CurrentLayout says which attached layout is written as root.layout, and
// why. Pull has no keys: the choice is unverified.
type CurrentLayout struct {
	// Path is the root.layout written; empty when no layout could be
	// chosen (two different layouts share the highest version).
	Path     string `json:"path,omitempty"`
	Referrer string `json:"referrer,omitempty"`
	Version  int    `json:"version"`
	// Note says it for a person, on one line.
	Note string `json:"note"`
}

// WriteBundle writes a bundle as the files in-toto-verify expects in dir:
// root.layout, STEP.KEYID8.link for each link, and a sublayout's links in
// STEP.KEYID8/. When several layouts are attached, root.layout is the one
// of the highest version (attest.Layout.Version), which is the one verify
// chooses when the layout owner signed it, and every other is written as
// root.DIGEST12.layout (the first 12 hex digits of its referrer's
// digest). No signature is checked, so the choice is unverified: a layout
// someone else signed may be root.layout, and in-toto-verify then refuses
// it. Two different layouts of the highest version make the choice
// ambiguous, as verify finds it: then none is root.layout. res.Current
// says which file is current. Where re-runs give two links one file name,
// the newest is written and the others are reported as skipped. Files are
// written atomically; existing files are replaced.
func WriteBundle(b *Bundle, dir string) (*PullResult, error) {
	res := &PullResult{Skipped: append([]Skipped(nil), b.Skipped...)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	current, cur := chooseLayout(b.Layouts)
	for _, l := range b.Layouts {
		name := "root." + strings.TrimPrefix(l.Referrer.Digest, "sha256:")[:12] + ".layout"
		if l == current {
			name = "root.layout"
		}
		if err := writeDoc(res, dir, name, l); err != nil {
			return nil, err
		}
		if l == current {
			cur.Path = res.Files[len(res.Files)-1].Path
		}
	}
	res.Current = cur
	if err := writeLinks(res, dir, b.Links); err != nil {
		return nil, err
	}
	return res, nil
}

// chooseLayout picks the layout to write as root.layout, as
// layoutref.Select picks among those signed by the layout keys, but
// without keys: the highest version wins, and two different layouts of
// the highest version are a tie that picks none.
func chooseLayout(layouts []*Document) (*Document, *CurrentLayout) {
	switch len(layouts) {
	case 0:
		return nil, nil
	case 1:
		// The one layout is root.layout, whatever it holds.
		v := 0
		if l, err := attest.ParseLayout(layouts[0].Envelope.Payload); err == nil {
			v, _ = l.Version()
		}
		return layouts[0], &CurrentLayout{Referrer: layouts[0].Referrer.Digest, Version: v,
			Note: fmt.Sprintf("root.layout is the one layout attached (%s); unverified: pull checks no signature", versionText(v))}
	}
	best := -1
	var top []*Document
	for _, d := range layouts { // newest first (sortDocs)
		l, err := attest.ParseLayout(d.Envelope.Payload)
		if err != nil {
			continue
		}
		v, _ := l.Version()
		switch {
		case v > best:
			best, top = v, []*Document{d}
		case v == best:
			top = append(top, d)
		}
	}
	if len(top) == 0 {
		return nil, &CurrentLayout{Note: fmt.Sprintf("none of the %d layouts attached is a valid layout; none is written as root.layout", len(layouts))}
	}
	for _, d := range top[1:] {
		if string(d.Envelope.Payload) != string(top[0].Envelope.Payload) {
			return nil, &CurrentLayout{Version: best, Note: fmt.Sprintf("%d different layouts have the highest version (%s), so none is written as root.layout (verify refuses the choice too); they are root.DIGEST12.layout", len(top), versionText(best))}
		}
	}
	others := fmt.Sprintf("the highest of the %d layouts attached", len(layouts))
	if best == 0 {
		others = fmt.Sprintf("as are the %d layouts attached", len(layouts))
	}
	return top[0], &CurrentLayout{Referrer: top[0].Referrer.Digest, Version: best,
		Note: fmt.Sprintf("root.layout is %s, %s; the others are root.DIGEST12.layout; unverified: pull checks no signature, and verify chooses only among the layouts the layout keys signed", versionText(best), others)}
}

func versionText(v int) string {
	if v == 0 {
		return "without a version"
	}
	return fmt.Sprintf("version %d", v)
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
