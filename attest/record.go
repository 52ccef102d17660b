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
	"runtime"
	"sort"
	"strings"
	"sync"

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
}

type fileToHash struct{ abs, name string }

// RecordArtifacts hashes the files at paths (directories recursively) with
// sha256 and returns them keyed by their normalised, slash-separated path.
// Files are hashed in parallel, each streamed in constant memory.
func RecordArtifacts(ctx context.Context, paths []string, o RecordOptions) (map[string]HashObj, error) {
	patterns := o.ExcludePatterns
	if patterns == nil {
		patterns = DefaultExcludePatterns
	}
	excl := ignore.CompileIgnoreLines(patterns...)
	for i, a := range o.LStripPaths {
		for j, b := range o.LStripPaths {
			if i != j && strings.HasPrefix(b, a) {
				return nil, fmt.Errorf("recording: --lstrip-paths %q is a prefix of %q", a, b)
			}
		}
	}
	var files []fileToHash
	seen := map[string]string{}
	add := func(abs, rel string) error {
		name := filepath.ToSlash(filepath.Clean(rel))
		for _, p := range o.LStripPaths {
			if strings.HasPrefix(name, p) {
				name = strings.TrimPrefix(name, p)
				break
			}
		}
		if name == "" {
			return fmt.Errorf("recording: --lstrip-paths leaves %q an empty name", rel)
		}
		if prev, dup := seen[name]; dup {
			if prev == abs {
				return nil
			}
			return fmt.Errorf("recording: %q and %q are both recorded as %q (check --lstrip-paths)", prev, abs, name)
		}
		seen[name] = abs
		files = append(files, fileToHash{abs, name})
		return nil
	}
	for _, p := range paths {
		if err := o.walk(p, excl, add, 0); err != nil {
			return nil, err
		}
	}
	return hashFiles(ctx, files, o.Workers)
}

// maxSymlinkDepth bounds followed symlinked directories against loops.
const maxSymlinkDepth = 16

func (o RecordOptions) walk(root string, excl *ignore.GitIgnore, add func(abs, rel string) error, depth int) error {
	abs := root
	if !filepath.IsAbs(abs) && o.Dir != "" {
		abs = filepath.Join(o.Dir, root)
	}
	info, err := os.Lstat(abs)
	if err != nil {
		return fmt.Errorf("recording %q: %w", root, errors.Unwrap(err))
	}
	return o.visit(abs, root, info, excl, add, depth)
}

func (o RecordOptions) visit(abs, rel string, info fs.FileInfo, excl *ignore.GitIgnore, add func(abs, rel string) error, depth int) error {
	clean := filepath.ToSlash(filepath.Clean(rel))
	if clean != "." && excl.MatchesPath(clean) {
		return nil
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		if o.RefuseSymlinks {
			return fmt.Errorf("recording %q: is a symlink (refused by --no-symlinks)", rel)
		}
		target, err := os.Stat(abs)
		if err != nil {
			return nil // a broken symlink names no artifact
		}
		if target.IsDir() {
			if !o.FollowSymlinkDirs {
				return nil
			}
			if depth >= maxSymlinkDepth {
				return fmt.Errorf("recording %q: symlinked directories nested over %d deep (a loop?)", rel, maxSymlinkDepth)
			}
			depth++
		}
		info = target
	}
	if info.Mode().IsRegular() {
		return add(abs, rel)
	}
	if !info.IsDir() {
		return nil // sockets, devices and pipes are not artifacts
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return fmt.Errorf("recording %q: %w", rel, errors.Unwrap(err))
	}
	for _, e := range entries {
		ei, err := e.Info()
		if err != nil {
			return fmt.Errorf("recording %q: %w", filepath.Join(rel, e.Name()), err)
		}
		if err := o.visit(filepath.Join(abs, e.Name()), filepath.Join(rel, e.Name()), ei, excl, add, depth); err != nil {
			return err
		}
	}
	return nil
}

// hashFiles hashes files on a pool of workers.
func hashFiles(ctx context.Context, files []fileToHash, workers int) (map[string]HashObj, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	sums := make([]string, len(files))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		next     = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for i := range next {
				sum, err := hashFile(files[i].abs, buf)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("hashing %q: %w", files[i].name, err); cancel() })
					continue
				}
				sums[i] = sum
			}
		}()
	}
feed:
	for i := range files {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]HashObj, len(files))
	for i, f := range files {
		out[f.name] = HashObj{"sha256": sums[i]}
	}
	return out, nil
}

func hashFile(path string, buf []byte) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	// The wrapper keeps our buffer: *os.File.WriteTo would allocate its own.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
