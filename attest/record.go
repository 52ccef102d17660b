package attest

import (
	"context"

	"errors"
	"fmt"

	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"syscall"
	"unicode/utf8"

	ignore "github.com/sabhiram/go-gitignore"

	"github.com/referee-dev/referee/internal/lazyre"
)

// DefaultExcludePatterns are left out of every recording, as the Python
// reference's ARTIFACT_EXCLUDE_PATTERNS: link files, VCS data, byte code
// and editor backups.
var DefaultExcludePatterns = []string{"*.link*", ".git", "*.pyc", "*~"}

// RecordOptions controls how artifacts are recorded, as in-toto-run's flags.
type RecordOptions struct {
	// Dir is where relative paths are resolved; empty means the current
	// directory.
	Dir string
	// ExcludePatterns are gitignore-style patterns of paths not to record.
	// nil means DefaultExcludePatterns; a list replaces them, as
	// in-toto-run's --exclude does.
	ExcludePatterns []string
	// LStripPaths are prefixes removed from recorded paths (the first that
	// matches, as plain string prefixes); two files that end up with one
	// name are an error.
	LStripPaths []string
	// FollowSymlinkDirs walks into symlinked directories, as in-toto-run
	// does. Files behind symlinks are always recorded under the link's name
	// with the target's hash; broken symlinks are skipped.
	FollowSymlinkDirs bool
	// RefuseSymlinks makes any symlink an error instead.
	RefuseSymlinks bool
	// Workers is how many files are hashed at once; 0 means every core.
	Workers int
	// Progress, when set, is called after each file is hashed with the
	// running totals (from the hashing goroutines, one call at a time).
	Progress func(files int, bytes int64)
	// OnMissing, when set, is called with each given path that does not
	// exist (or is a broken symlink), in order, before any hashing. Such a
	// path is skipped, as in-toto-run skips it (it logs "path: P does not
	// exist, skipping.." at info level). RunStep, StartStep and StopStep
	// list them in their RunResult.
	OnMissing func(path string)
}

// checkLStrip refuses --lstrip-paths prefixes of one another, which would
// make the name of a file depend on their order.
func (o RecordOptions) checkLStrip() error {
	for i, a := range o.LStripPaths {
		for j, b := range o.LStripPaths {
			if i != j && strings.HasPrefix(b, a) {
				return fmt.Errorf("recording: --lstrip-paths %q is a prefix of %q", a, b)
			}
		}
	}
	return nil
}

// resolve returns the path p names, relative to Dir.
func (o RecordOptions) resolve(p string) string {
	if !filepath.IsAbs(p) && o.Dir != "" {
		return filepath.Join(o.Dir, p)
	}
	return p
}

// isMissing reports whether an Lstat or Stat error means there is nothing
// at the path, as Python's os.path.exists sees it.
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// RecordArtifacts hashes the files at paths (directories recursively) with
// sha256 and returns them keyed by their normalised, slash-separated path.
// Walking and hashing share one pool of workers, so both directory reads
// and hashing use every core; each file is streamed in constant memory.
// On Linux, files one owns are read without updating their access time.
func RecordArtifacts(ctx context.Context, paths []string, o RecordOptions) (map[string]HashObj, error) {
	patterns := o.ExcludePatterns
	if patterns == nil {
		patterns = DefaultExcludePatterns
	}
	if err := o.checkLStrip(); err != nil {
		return nil, err
	}
	w := &walker{o: o, excl: ignore.CompileIgnoreLines(patterns...), needles: excludeNeedles(patterns)}
	var tasks []task
	var files []entry // given paths that are files: opened as they are
	for _, p := range paths {
		abs, rel := o.resolve(p), filepath.Clean(p)
		info, err := os.Lstat(abs)
		if err == nil && info.Mode()&fs.ModeSymlink != 0 && !o.RefuseSymlinks {
			_, err = os.Stat(abs) // a broken symlink is a missing path
		}
		if isMissing(err) {
			if o.OnMissing != nil {
				o.OnMissing(p)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("recording %q: %w", p, errors.Unwrap(err))
		}
		if w.excluded(rel) {
			continue
		}
		mode, depth := info.Mode().Type(), 0
		if mode&fs.ModeSymlink != 0 {
			if o.RefuseSymlinks {
				return nil, fmt.Errorf("recording %q: is a symlink (refused by --no-symlinks)", rel)
			}
			target, err := os.Stat(abs)
			if err != nil {
				continue // a broken symlink names no artifact
			}
			if target.IsDir() {
				if !o.FollowSymlinkDirs {
					continue
				}
				depth = 1
			}
			mode = target.Mode().Type()
		}
		switch {
		case mode.IsRegular():
			files = append(files, entry{name: abs, rel: rel})
		case mode.IsDir():
			tasks = append(tasks, task{dir: &dirRef{abs: abs, rel: rel, depth: depth}})
		}
	}
	if len(files) > 0 {
		cwd := &dirRef{d: cwdDir()}
		cwd.pending.Store(1)
		tasks = append(tasks, task{dir: cwd, files: files})
	}
	found, err := w.run(ctx, tasks)
	if err != nil {
		return nil, err
	}
	return o.name(found)
}

// name turns recorded files into artifact names: slash-separated, with the
// first matching --lstrip-paths prefix removed. A file reached twice (given
// twice, or inside another path given) counts once; two files with one
// name are an error. The names are nearly always distinct, and then need no
// sorting; else (and for any error) nameSorted sorts them, so that what is
// reported does not depend on the order the files were hashed in.
func (o RecordOptions) name(found [][]result) (map[string]HashObj, error) {
	n := 0
	for _, rs := range found {
		n += len(rs)
	}
	out := make(map[string]HashObj, n)
	for _, rs := range found {
		for _, r := range rs {
			name, ok := o.artifactName(r.rel)
			had := len(out)
			out[name] = r.h
			if len(out) == had || !ok { // nameSorted starts again
				return o.nameSorted(found, n)
			}
		}
	}
	return out, nil
}

// artifactName returns the name the file at clean path rel is recorded
// under; false if it cannot be one (empty or not UTF-8).
func (o RecordOptions) artifactName(rel string) (string, bool) {
	name := filepath.ToSlash(rel)
	for _, p := range o.LStripPaths {
		if strings.HasPrefix(name, p) {
			name = name[len(p):]
			break
		}
	}
	return name, name != "" && utf8.ValidString(name)
}

// nameSorted is name for the files in path order, which says which of two
// files that get one name is reported, and which file is not a name.
func (o RecordOptions) nameSorted(found [][]result, n int) (map[string]HashObj, error) {
	all := make([]result, 0, n)
	for _, rs := range found {
		all = append(all, rs...)
	}
	slices.SortFunc(all, func(a, b result) int { return strings.Compare(a.rel, b.rel) })
	out := make(map[string]HashObj, len(all))
	from := make(map[string]string, len(all))
	for _, f := range all {
		name, ok := o.artifactName(f.rel)
		if name == "" {
			return nil, fmt.Errorf("recording: --lstrip-paths leaves %q an empty name", f.rel)
		}
		if !ok {
			// JSON would carry it as U+FFFD: another name, shared by
			// every file that differs from it in those bytes.
			return nil, fmt.Errorf("recording %q: the name is not UTF-8, which a link cannot hold", f.rel)
		}
		if prev, dup := from[name]; dup {
			if prev == f.rel || o.resolve(prev) == o.resolve(f.rel) {
				continue // one file, reached twice
			}
			return nil, fmt.Errorf("recording: %q and %q are both recorded as %q (check --lstrip-paths)", o.resolve(prev), o.resolve(f.rel), name)
		}
		from[name] = f.rel
		out[name] = f.h
	}
	return out, nil
}

// maxSymlinkDepth bounds followed symlinked directories against loops.
const maxSymlinkDepth = 16

// excludeNeedles returns, for each exclude pattern that can exclude
// anything, the longest run of literal characters it holds; "" if a pattern
// has none (then every path must be matched). A path that contains none of
// the needles cannot match any pattern, which spares the gitignore
// library's regexps for nearly every file (they were a quarter of the CPU
// time of recording 100,000 small files).
var bracketExpr = lazyre.New(`\[[^\]]*\]?`)

func excludeNeedles(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") || strings.HasPrefix(p, "!") {
			continue // comments; negations only re-include
		}
		best := ""
		// Bracket expressions are not literal: cut them out first.
		p = bracketExpr().ReplaceAllString(p, "/")
		for _, run := range strings.FieldsFunc(p, func(r rune) bool { return strings.ContainsRune("*?[]\\/", r) }) {
			if len(run) > len(best) {
				best = run
			}
		}
		out = append(out, best)
	}
	return out
}
