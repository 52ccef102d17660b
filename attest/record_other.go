//go:build !linux

package attest

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Elsewhere than on Linux (record_linux.go), recording goes through os:
// a directory is listed with ReadDir and each file opened by its path.

// sysDir is a directory by its path ("" for the paths given to
// RecordArtifacts, which are opened as they are).
type sysDir struct{ abs string }

// sysWorker is what a worker keeps for hashAt.
type sysWorker struct {
	path []byte // the path of the file to open
}

func newSysWorker() sysWorker { return sysWorker{} }

func cwdDir() sysDir { return sysDir{} }

func openDir(abs string) (sysDir, error) { return sysDir{abs: abs}, nil }

func (d sysDir) close() {}

// list calls each for every entry, with its name and type bits.
func (d sysDir) list(_ []byte, each func(name []byte, typ fs.FileMode) error) error {
	entries, err := os.ReadDir(d.abs)
	if err != nil {
		return unwrapPath(err)
	}
	for _, e := range entries {
		typ := e.Type()
		if typ&^(fs.ModeDir|fs.ModeSymlink) != 0 {
			typ = fs.ModeIrregular
		}
		if err := each([]byte(e.Name()), typ); err != nil {
			return err
		}
	}
	return nil
}

// unwrapPath returns what a *fs.PathError wraps: messages name the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// statAt returns the type of what the symlink name points to.
func (d sysDir) statAt(name string) (fs.FileMode, error) {
	st, err := os.Stat(filepath.Join(d.abs, name))
	if err != nil {
		return 0, err
	}
	return st.Mode().Type(), nil
}

// hashAt writes the contents of the file name in d to wk's digest through
// its buffer and returns its size; errors name the file's path.
func (d sysDir) hashAt(name string, wk *worker) (int64, error) {
	sw := &wk.sys
	sw.path = append(sw.path[:0], d.abs...)
	if d.abs != "" && !os.IsPathSeparator(d.abs[len(d.abs)-1]) {
		sw.path = append(sw.path, filepath.Separator)
	}
	f, err := os.Open(string(append(sw.path, name...)))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// The wrapper keeps our buffer: *os.File.WriteTo would allocate its own.
	return io.CopyBuffer(wk.d, struct{ io.Reader }{f}, wk.buf)
}
