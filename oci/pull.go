package oci

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/termsafe"
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
// written atomically; existing regular files are replaced.
//
// Everything written stays inside dir. dir itself is the caller's choice
// and is created and followed if it is a symbolic link; inside it nothing
// is followed (os.Root). Every name is built here from plain names only: a
// step name that attest.ValidateStepName accepts and that prints as
// itself and does not start with a dot, the first 8 characters of the
// first signature's keyid, which must be lowercase hex, and the hex of a
// referrer's digest (file names as in
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#44-file-formats-namekeyid-prefixlink).
// Document.FileName is not used. A document whose name cannot be built
// so, or whose file in dir is there already as anything but a regular file
// (a directory, a symbolic link), is not written and is reported in
// res.Skipped with why; so are the links of a sublayout that is not
// written or whose directory is there already as anything but a
// directory. The rest of the bundle is still written.
func WriteBundle(b *Bundle, dir string) (*PullResult, error) {
	res := &PullResult{Skipped: append([]Skipped(nil), b.Skipped...)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	w := &bundleWriter{res: res}
	current, cur := chooseLayout(b.Layouts)
	for _, l := range b.Layouts {
		name := "root.layout"
		if l != current {
			h, err := digestHex(l.Referrer.Digest)
			if err != nil {
				w.skip(l, err.Error())
				continue
			}
			name = "root." + h[:12] + ".layout"
		}
		p, err := w.file(root, dir, name, l)
		if err != nil {
			return nil, err
		}
		if l == current {
			cur.Path = p
			if p == "" {
				cur.Note += "; but root.layout was not written (see skipped)"
			}
		}
	}
	res.Current = cur
	if err := w.links(root, dir, b.Links); err != nil {
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

// bundleWriter writes the files of one bundle and records what it wrote
// and what it refused.
type bundleWriter struct {
	res *PullResult
}

func (w *bundleWriter) skip(d *Document, reason string) {
	w.res.Skipped = append(w.res.Skipped, Skipped{Digest: d.Referrer.Digest, Reason: "not written: " + reason})
}

// skipSub reports the documents below a sublayout that was not written.
func (w *bundleWriter) skipSub(d *Document, why string) {
	for _, s := range d.Sub {
		w.skip(s, fmt.Sprintf("it is evidence of the sublayout %s, whose %s", d.Referrer.Digest, why))
		w.skipSub(s, why)
	}
}

// links writes docs, links and sublayouts, into r, which is dir.
func (w *bundleWriter) links(r *os.Root, dir string, docs []*Document) error {
	taken := map[string]string{}
	for _, d := range docs {
		base, err := linkBase(d)
		if err != nil {
			w.skip(d, err.Error())
			w.skipSub(d, "file name cannot be built")
			continue
		}
		name := base + ".link"
		if prev, ok := taken[name]; ok {
			w.skip(d, fmt.Sprintf("%s is already taken by the newer %s", name, prev))
			w.skipSub(d, "file name is taken by a newer one")
			continue
		}
		taken[name] = d.Referrer.Digest
		p, err := w.file(r, dir, name, d)
		if err != nil {
			return err
		}
		if d.Kind != "layout" || len(d.Sub) == 0 {
			continue
		}
		if p == "" {
			w.skipSub(d, "file was not written")
			continue
		}
		sub, err := w.dir(r, dir, base)
		if err != nil {
			return err
		}
		if sub == nil {
			w.skipSub(d, fmt.Sprintf("directory %s in %s is not a directory (a symbolic link, or another kind of file)", base, dir))
			continue
		}
		err = w.links(sub, filepath.Join(dir, base), d.Sub)
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// linkBase is STEP.KEYID8, the name of a link file without ".link" and of
// a sublayout's directory, built from plain names only.
func linkBase(d *Document) (string, error) {
	step := d.Step
	if err := attest.ValidateStepName(step); err != nil {
		return "", err
	}
	if !termsafe.Safe(step) {
		return "", fmt.Errorf("step name %s has a character that does not print as itself", termsafe.Quote(step))
	}
	if strings.HasPrefix(step, ".") {
		return "", fmt.Errorf("step name %q starts with a dot: its file would be hidden", step)
	}
	keyid := ""
	if d.Envelope != nil {
		keyid = firstKeyID(d.Envelope)
	}
	if len(keyid) < 8 || strings.Trim(keyid[:8], "0123456789abcdef") != "" {
		return "", fmt.Errorf("keyid %q does not start with 8 lowercase hexadecimal digits", bounded(keyid))
	}
	return step + "." + keyid[:8], nil
}

// digestHex is the hex of a referrer's digest, which names the other
// layouts' files.
func digestHex(dg string) (string, error) {
	alg, h, ok := strings.Cut(dg, ":")
	if !ok || alg == "" || len(h) < 12 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("digest %q is not hexadecimal", bounded(dg))
	}
	return h, nil
}

// bounded shortens what a refusal quotes.
func bounded(s string) string {
	if len(s) > 80 {
		return strings.ToValidUTF8(s[:80], "") + "…"
	}
	return s
}

// file writes d as name in r (which is dir), atomically, replacing a
// regular file only. It returns the path written, or "" when d was
// refused.
func (w *bundleWriter) file(r *os.Root, dir, name string, d *Document) (string, error) {
	p := filepath.Join(dir, name)
	if fi, err := r.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		w.skip(d, fmt.Sprintf("%s is there already and is not a regular file (%s)", p, kindOf(fi.Mode())))
		return "", nil
	}
	if err := writeAtomic(r, name, d.Raw); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	w.res.Files = append(w.res.Files, Written{Path: p, Referrer: d.Referrer.Digest})
	return p, nil
}

// writeAtomic writes data as name (a plain name) in r: into a new
// temporary file beside it, then renamed over name, which replaces a
// name, never what a link there points to.
func writeAtomic(r *os.Root, name string, data []byte) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, name)
	}
	if err != nil {
		_ = r.Remove(tmp)
	}
	return err
}

// dir opens the directory name in r (which is dir), creating it; nil when name is taken
// by anything but a directory, a symbolic link included.
func (w *bundleWriter) dir(r *os.Root, dir, name string) (*os.Root, error) {
	p := filepath.Join(dir, name)
	err := r.Mkdir(name, 0o755)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating %s: %w", p, err)
	}
	fi, err := r.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", p, err)
	}
	if !fi.IsDir() {
		return nil, nil
	}
	sub, err := r.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	return sub, nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link, which pull does not follow"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}
