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
	if res == nil {
		return errors.New("writing artifacts: no pull result to add them to")
	}
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
		where := filepath.Join(dir, filepath.FromSlash(p))
		into, base, why, err := artifactDir(root, p)
		if err != nil {
			return fmt.Errorf("writing %s: %w", where, err)
		}
		if why != "" {
			skip(e, why)
			continue
		}
		e.mu.Lock()
		l := e.layer
		e.mu.Unlock()
		data, err := a.read(ctx, e, l)
		if err != nil {
			_ = closeSub(root, into, nil)
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			skip(e, err.Error())
			continue
		}
		if err := closeSub(root, into, writeAtomic(into, base, data)); err != nil {
			return fmt.Errorf("writing %s: %w", where, err)
		}
		done[p] = e.manifest.Digest.String()
		res.Files = append(res.Files, Written{Path: where, Referrer: done[p]})
	}
	return nil
}

// artifactDir opens the directory in root where the artifact at the
// relative path p (checked by CheckArtifactPath) goes, creating the
// directories on the way, none of which may be there as anything but a
// directory, and returns it with the file's name there, which may be
// there only as a regular file (replaced). Otherwise it returns why not.
// The caller closes the directory with closeSub.
func artifactDir(root *os.Root, p string) (*os.Root, string, string, error) {
	parts := strings.Split(p, "/")
	cur := root
	for i, name := range parts[:len(parts)-1] {
		why, next, err := subdir(cur, name, path.Join(parts[:i+1]...))
		if cur != root {
			cur.Close()
		}
		if err != nil || why != "" {
			return nil, "", why, err
		}
		cur = next
	}
	base := parts[len(parts)-1]
	if fi, err := cur.Lstat(base); err == nil && !fi.Mode().IsRegular() {
		_ = closeSub(root, cur, nil)
		return nil, "", fmt.Sprintf("%s is there already and is not a regular file (%s)", p, kindOf(fi.Mode())), nil
	}
	return cur, base, "", nil
}

// subdir opens the directory name in cur (sofar from the top), creating
// it; it says why not where name is there as anything but a directory.
func subdir(cur *os.Root, name, sofar string) (string, *os.Root, error) {
	err := cur.Mkdir(name, 0o755)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return "", nil, err
	}
	fi, err := cur.Lstat(name)
	if err != nil {
		return "", nil, err
	}
	if !fi.IsDir() {
		return fmt.Sprintf("%s is there already and is not a directory (%s)", sofar, kindOf(fi.Mode())), nil, nil
	}
	next, err := cur.OpenRoot(name)
	return "", next, err
}

// closeSub closes a directory artifactDir opened, unless it is root
// itself, and returns err or the close's error.
func closeSub(root, r *os.Root, err error) error {
	if r == nil || r == root {
		return err
	}
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return err
}
