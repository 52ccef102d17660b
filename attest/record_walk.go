package attest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	ignore "github.com/sabhiram/go-gitignore"
)

// The walk: a pool of workers (one per core) takes tasks from a shared
// stack. A task lists a directory or hashes a batch of files of one
// directory. The worker that lists a directory hashes its first batch
// itself and pushes the others (and the subdirectories) for any worker, so
// one huge directory and many small ones both spread over the cores, with
// one hand-off per batch instead of one per file. Files are opened relative
// to their open directory (no path lookup from the root for each) with one
// reused buffer and digest per worker; what a file costs beyond its bytes
// is the system calls to open, read and close it. See record_linux.go.

// batchFiles is how many files of a directory one task hashes.
const batchFiles = 64

// hashBufSize is each worker's read buffer: a small file is read in one
// call, a large one in 1 MiB pieces.
const hashBufSize = 1 << 20

// dirRef is a directory being recorded: open from its listing until the
// last of its batches is hashed.
type dirRef struct {
	abs, rel string // rel is clean
	depth    int    // symlinked directories followed to reach it
	d        sysDir
	pending  atomic.Int32 // batches not yet hashed; the last closes d
}

func (d *dirRef) release() {
	if d.pending.Add(-1) == 0 {
		d.d.close()
	}
}

// entry is a file to hash: name in its directory, rel its clean path.
type entry struct{ name, rel string }

// task lists dir (files == nil) or hashes files, which are in dir.
type task struct {
	dir   *dirRef
	files []entry
}

// result is a hashed file: its clean path and its hash.
type result struct {
	rel string
	h   HashObj
}

type walker struct {
	o       RecordOptions
	excl    *ignore.GitIgnore
	needles []string

	stopped atomic.Bool // an error was set: workers stop at the next file
	// ctx is run's: a worker sees its cancellation at the next file, not
	// only once context.AfterFunc's goroutine has run.
	ctx context.Context

	mu      sync.Mutex
	cond    *sync.Cond
	stack   []task
	busy    int
	err     error
	results [][]result
	files   int
	bytes   int64
}

// worker is one worker's reusable state.
type worker struct {
	buf []byte
	sys sysWorker
	d   hash.Hash
	sum []byte
	hex [sha256.Size * 2]byte
	out []result
}

func (w *walker) run(ctx context.Context, tasks []task) ([][]result, error) {
	workers := w.o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	w.cond = sync.NewCond(&w.mu)
	w.stack = tasks
	w.ctx = ctx
	stop := context.AfterFunc(ctx, func() { w.fail(ctx.Err()) })
	var wg sync.WaitGroup
	for range workers {
		wg.Go(w.work)
	}
	wg.Wait()
	stop()
	// After an error, batches left behind still hold their directories.
	for _, t := range w.stack {
		if t.files != nil {
			t.dir.release()
		}
	}
	w.stack = nil
	w.mu.Lock()
	err := w.err
	w.mu.Unlock()
	if err == nil {
		err = ctx.Err() // cancelled before the cancellation was seen
	}
	return w.results, err
}

func (w *walker) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
		w.stopped.Store(true)
	}
	w.mu.Unlock()
	w.cond.Broadcast()
}

// work takes tasks until the stack is empty and no worker can add more.
func (w *walker) work() {
	wk := &worker{buf: make([]byte, hashBufSize), d: sha256.New(), sum: make([]byte, 0, sha256.Size), sys: newSysWorker()}
	defer func() {
		w.mu.Lock()
		w.results = append(w.results, wk.out)
		w.mu.Unlock()
	}()
	for {
		w.mu.Lock()
		for len(w.stack) == 0 && w.busy > 0 && w.err == nil {
			w.cond.Wait()
		}
		if w.err != nil || len(w.stack) == 0 {
			w.mu.Unlock()
			w.cond.Broadcast()
			return
		}
		t := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		w.busy++
		w.mu.Unlock()

		var err error
		if t.files != nil {
			err = w.hashBatch(wk, t)
		} else {
			err = w.list(wk, t.dir)
		}

		w.mu.Lock()
		w.busy--
		w.mu.Unlock()
		w.cond.Broadcast()
		if err != nil {
			w.fail(err)
			return
		}
	}
}

// push adds tasks for any worker.
func (w *walker) push(ts ...task) {
	if len(ts) == 0 {
		return
	}
	w.mu.Lock()
	w.stack = append(w.stack, ts...)
	w.mu.Unlock()
	w.cond.Broadcast()
}

// child returns the clean path of name in the directory at clean path rel,
// and name, a part of it (one string for both).
func child(rel string, name []byte) (string, string) {
	var p string
	switch {
	case rel == ".":
		p = string(name)
	case strings.HasSuffix(rel, string(filepath.Separator)): // the root
		p = rel + string(name)
	default:
		p = rel + string(filepath.Separator) + string(name)
	}
	return p, p[len(p)-len(name):]
}

// list lists a directory: subdirectories become tasks, files batches, of
// which this worker hashes the first.
func (w *walker) list(wk *worker, dir *dirRef) error {
	d, err := openDir(dir.abs)
	if err != nil {
		return fmt.Errorf("recording %q: %w", dir.rel, err)
	}
	dir.d = d
	var subdirs []task
	var files []entry
	err = d.list(wk.buf, func(raw []byte, typ fs.FileMode) error {
		rel, name := child(dir.rel, raw)
		if w.excluded(rel) {
			return nil
		}
		depth := dir.depth
		if typ&fs.ModeSymlink != 0 {
			if w.o.RefuseSymlinks {
				return fmt.Errorf("recording %q: is a symlink (refused by --no-symlinks)", rel)
			}
			target, err := d.statAt(name)
			if err != nil {
				return nil // a broken symlink names no artifact
			}
			if target.IsDir() {
				if !w.o.FollowSymlinkDirs {
					return nil
				}
				if depth >= maxSymlinkDepth {
					return fmt.Errorf("recording %q: symlinked directories nested over %d deep (a loop?)", rel, maxSymlinkDepth)
				}
				depth++
			}
			typ = target.Type()
		}
		switch {
		case typ.IsRegular():
			files = append(files, entry{name: name, rel: rel})
		case typ.IsDir():
			subdirs = append(subdirs, task{dir: &dirRef{abs: filepath.Join(dir.abs, name), rel: rel, depth: depth}})
		}
		return nil // sockets, devices and pipes are not artifacts
	})
	if err != nil {
		d.close()
		return err
	}
	if len(files) == 0 {
		d.close()
		w.push(subdirs...)
		return nil
	}
	batches := (len(files) + batchFiles - 1) / batchFiles
	dir.pending.Store(int32(batches))
	// Batches go on top of the stack, so that the directory is closed soon.
	tasks := subdirs
	for i := batchFiles; i < len(files); i += batchFiles {
		tasks = append(tasks, task{dir: dir, files: files[i:min(i+batchFiles, len(files))]})
	}
	w.push(tasks...)
	return w.hashBatch(wk, task{dir: dir, files: files[:min(batchFiles, len(files))]})
}

// hashBatch hashes files of one directory.
func (w *walker) hashBatch(wk *worker, t task) error {
	defer t.dir.release()
	for _, f := range t.files {
		if w.stopped.Load() {
			return nil
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		wk.d.Reset()
		n, err := t.dir.d.hashAt(f.name, wk)
		if err != nil {
			return fmt.Errorf("hashing %q: %w", f.rel, err)
		}
		wk.sum = wk.d.Sum(wk.sum[:0])
		hex.Encode(wk.hex[:], wk.sum)
		wk.out = append(wk.out, result{rel: f.rel, h: HashObj{"sha256": string(wk.hex[:])}})
		if w.o.Progress != nil {
			w.mu.Lock()
			w.files, w.bytes = w.files+1, w.bytes+n
			w.o.Progress(w.files, w.bytes)
			w.mu.Unlock()
		}
	}
	return nil
}

// excluded reports whether the clean path rel matches an exclude pattern.
func (w *walker) excluded(rel string) bool {
	if rel == "." {
		return false
	}
	slash := filepath.ToSlash(rel)
	for _, n := range w.needles {
		if strings.Contains(slash, n) {
			return w.excl.MatchesPath(slash)
		}
	}
	return false
}
