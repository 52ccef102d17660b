package oci

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/referee-dev/referee/internal/termsafe"
)

// WriteFiles writes the set's artifacts into dir as the files they were,
// each at its path (its title), after WriteBundle has written the
// evidence there; res is WriteBundle's result, to which the files
// written and those skipped are added. Of several artifacts at one path,
// the newest (by its creation annotation, a hint) that can be read is
// written. Every byte is checked as Artifact checks it.
//
// As WriteBundle, it stays inside dir and follows nothing there
// (os.Root): a directory on the way that is there already as anything but
// a directory, or a file there as anything but a regular file, makes the
// artifact skipped. So are artifacts at a path pull writes evidence to or
// that in-toto-verify reads as evidence (a file ending in .link or
// .layout at the top, or under a sublayout's directory), and those not
// available (Artifact's fs.ErrNotExist: too large, bytes that do not
// match). Any other failure to read or write is an error.
func (a *ArtifactSet) WriteFiles(ctx context.Context, dir string, res *PullResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	taken, reservedDirs := map[string]bool{}, map[string]bool{}
	for _, f := range res.Files {
		rel, err := filepath.Rel(dir, f.Path)
		if err != nil {
			continue
		}
		rel = filepath.ToSlash(rel)
		taken[rel] = true
		if d, _, ok := strings.Cut(rel, "/"); ok {
			reservedDirs[d] = true
		}
	}
	skip := func(e *artifactEntry, why string) {
		res.Skipped = append(res.Skipped, Skipped{Digest: e.manifest.Digest.String(), Reason: fmt.Sprintf("artifact %s not written: %s", termsafe.Quote(e.info.Path), why)})
	}
	done := map[string]string{} // path → referrer written there
	for _, e := range a.all {
		p := e.info.Path
		first, _, nested := strings.Cut(p, "/")
		switch {
		case done[p] != "":
			skip(e, "the newer "+done[p]+" is written there")
			continue
		case taken[p]:
			skip(e, "pull writes the evidence there")
			continue
		case !nested && (strings.HasSuffix(p, ".link") || strings.HasSuffix(p, ".layout")), nested && reservedDirs[first]:
			skip(e, "in-toto-verify would read it as evidence")
			continue
		}
		if err := a.confirmEntry(ctx, e); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			skip(e, err.Error())
			continue
		}
		e.mu.Lock()
		l := e.layer
		e.mu.Unlock()
		data, err := a.read(ctx, e, l)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			skip(e, err.Error())
			continue
		}
		why, err := writeArtifactFile(root, p, data)
		if err != nil {
			return fmt.Errorf("writing %s: %w", filepath.Join(dir, filepath.FromSlash(p)), err)
		}
		if why != "" {
			skip(e, why)
			continue
		}
		done[p] = e.manifest.Digest.String()
		res.Files = append(res.Files, Written{Path: filepath.Join(dir, filepath.FromSlash(p)), Referrer: done[p]})
	}
	return nil
}

// writeArtifactFile writes data at the relative path p (checked by
// CheckArtifactPath) in root, creating the directories on the way, none
// of which may be there as anything but a directory, and replacing only a
// regular file. It returns why it did not write, or an error.
func writeArtifactFile(root *os.Root, p string, data []byte) (string, error) {
	parts := strings.Split(p, "/")
	cur := root
	for i, name := range parts[:len(parts)-1] {
		sofar := path.Join(parts[:i+1]...)
		err := cur.Mkdir(name, 0o755)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		fi, err := cur.Lstat(name)
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return fmt.Sprintf("%s is there already and is not a directory (%s)", sofar, kindOf(fi.Mode())), nil
		}
		next, err := cur.OpenRoot(name)
		if err != nil {
			return "", err
		}
		if cur != root {
			cur.Close()
		}
		cur = next
	}
	if cur != root {
		defer cur.Close()
	}
	base := parts[len(parts)-1]
	if fi, err := cur.Lstat(base); err == nil && !fi.Mode().IsRegular() {
		return fmt.Sprintf("%s is there already and is not a regular file (%s)", p, kindOf(fi.Mode())), nil
	}
	return "", writeAtomic(cur, base, data)
}
