package attest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	ignore "github.com/sabhiram/go-gitignore"
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
func RecordArtifacts(ctx context.Context, paths []string, o RecordOptions) (map[string]HashObj, error) {
	patterns := o.ExcludePatterns
	if patterns == nil {
		patterns = DefaultExcludePatterns
	}
	if err := o.checkLStrip(); err != nil {
		return nil, err
	}
	w := &walker{o: o, excl: ignore.CompileIgnoreLines(patterns...), needles: excludeNeedles(patterns)}
	var roots []job
	for _, p := range paths {
		abs := o.resolve(p)
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
		roots = append(roots, job{abs: abs, rel: p, mode: info.Mode().Type()})
	}
	found, err := w.run(ctx, roots)
	if err != nil {
		return nil, err
	}
	return o.name(found)
}

// name turns recorded files into artifact names: normalised, with the first
// matching --lstrip-paths prefix removed; a file reached twice counts once,
// two files with one name are an error.
func (o RecordOptions) name(found []hashed) (map[string]HashObj, error) {
	sort.Slice(found, func(i, j int) bool { return found[i].rel < found[j].rel })
	out := make(map[string]HashObj, len(found))
	from := make(map[string]string, len(found))
	for _, f := range found {
		name := filepath.ToSlash(filepath.Clean(f.rel))
		for _, p := range o.LStripPaths {
			if strings.HasPrefix(name, p) {
				name = strings.TrimPrefix(name, p)
				break
			}
		}
		if name == "" {
			return nil, fmt.Errorf("recording: --lstrip-paths leaves %q an empty name", f.rel)
		}
		if !utf8.ValidString(name) {
			// JSON would carry it as U+FFFD: another name, shared by
			// every file that differs from it in those bytes.
			return nil, fmt.Errorf("recording %q: the name is not UTF-8, which a link cannot hold", f.rel)
		}
		if prev, dup := from[name]; dup {
			if prev == f.abs {
				continue
			}
			return nil, fmt.Errorf("recording: %q and %q are both recorded as %q (check --lstrip-paths)", prev, f.abs, name)
		}
		from[name] = f.abs
		out[name] = HashObj{"sha256": f.sum}
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
var bracketExpr = regexp.MustCompile(`\[[^\]]*\]?`)

func excludeNeedles(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") || strings.HasPrefix(p, "!") {
			continue // comments; negations only re-include
		}
		best := ""
		// Bracket expressions are not literal: cut them out first.
		p = bracketExpr.ReplaceAllString(p, "/")
		for _, run := range strings.FieldsFunc(p, func(r rune) bool { return strings.ContainsRune("*?[]\\/", r) }) {
			if len(run) > len(best) {
				best = run
			}
		}
		out = append(out, best)
	}
	return out
}

func (w *walker) excluded(rel string) bool {
	clean := filepath.ToSlash(filepath.Clean(rel))
	if clean == "." {
		return false
	}
	for _, n := range w.needles {
		if strings.Contains(clean, n) {
			return w.excl.MatchesPath(clean)
		}
	}
	return false
}

// job is a path to visit: a directory to list or a file to hash.
type job struct {
	abs, rel string
	mode     fs.FileMode
	depth    int
}

type hashed struct{ abs, rel, sum string }

// walker visits paths on a pool of workers fed by an unbounded queue, so
// that one huge directory and many small ones both spread over the cores.
type walker struct {
	o       RecordOptions
	excl    *ignore.GitIgnore
	needles []string

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []job
	busy    int
	err     error
	results []hashed
	files   int
	bytes   int64
}

func (w *walker) run(ctx context.Context, roots []job) ([]hashed, error) {
	workers := w.o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	w.cond = sync.NewCond(&w.mu)
	w.queue = roots
	stop := context.AfterFunc(ctx, func() { w.fail(ctx.Err()) })
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work()
		}()
	}
	wg.Wait()
	return w.results, w.err
}

func (w *walker) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cond.Broadcast()
}

// work takes jobs until the queue is empty and no worker can add more.
func (w *walker) work() {
	buf := make([]byte, 256<<10)
	var mine []hashed
	defer func() {
		w.mu.Lock()
		w.results = append(w.results, mine...)
		w.mu.Unlock()
	}()
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && w.busy > 0 && w.err == nil {
			w.cond.Wait()
		}
		if w.err != nil || len(w.queue) == 0 {
			w.mu.Unlock()
			w.cond.Broadcast()
			return
		}
		j := w.queue[len(w.queue)-1]
		w.queue = w.queue[:len(w.queue)-1]
		w.busy++
		w.mu.Unlock()

		more, h, err := w.visit(j, buf)

		w.mu.Lock()
		w.busy--
		w.queue = append(w.queue, more...)
		w.mu.Unlock()
		w.cond.Broadcast()
		if err != nil {
			w.fail(err)
			return
		}
		if h != nil {
			mine = append(mine, *h)
		}
	}
}

// visit hashes a file, or lists a directory and returns its entries as new
// jobs, applying excludes and the symlink options.
func (w *walker) visit(j job, buf []byte) ([]job, *hashed, error) {
	if w.excluded(j.rel) {
		return nil, nil, nil
	}
	mode := j.mode
	if mode&fs.ModeSymlink != 0 {
		if w.o.RefuseSymlinks {
			return nil, nil, fmt.Errorf("recording %q: is a symlink (refused by --no-symlinks)", j.rel)
		}
		target, err := os.Stat(j.abs)
		if err != nil {
			return nil, nil, nil // a broken symlink names no artifact
		}
		if target.IsDir() {
			if !w.o.FollowSymlinkDirs {
				return nil, nil, nil
			}
			if j.depth >= maxSymlinkDepth {
				return nil, nil, fmt.Errorf("recording %q: symlinked directories nested over %d deep (a loop?)", j.rel, maxSymlinkDepth)
			}
			j.depth++
		}
		mode = target.Mode().Type()
	}
	switch {
	case mode.IsRegular():
		sum, n, err := hashFile(j.abs, buf)
		if err != nil {
			return nil, nil, fmt.Errorf("hashing %q: %w", j.rel, err)
		}
		if w.o.Progress != nil {
			w.mu.Lock()
			w.files, w.bytes = w.files+1, w.bytes+n
			w.o.Progress(w.files, w.bytes)
			w.mu.Unlock()
		}
		return nil, &hashed{abs: j.abs, rel: j.rel, sum: sum}, nil
	case !mode.IsDir():
		return nil, nil, nil // sockets, devices and pipes are not artifacts
	}
	entries, err := os.ReadDir(j.abs)
	if err != nil {
		return nil, nil, fmt.Errorf("recording %q: %w", j.rel, errors.Unwrap(err))
	}
	more := make([]job, 0, len(entries))
	for _, e := range entries {
		more = append(more, job{abs: filepath.Join(j.abs, e.Name()), rel: filepath.Join(j.rel, e.Name()), mode: e.Type(), depth: j.depth})
	}
	return more, nil, nil
}

func hashFile(path string, buf []byte) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	// The wrapper keeps our buffer: *os.File.WriteTo would allocate its own.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
