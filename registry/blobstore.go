package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// errBlobUnknown is what a blobStore returns for a blob it does not hold.
var errBlobUnknown = errors.New("blob unknown")

// errDigestMismatch is what blobStore.put returns when the content is not
// what its digest names.
var errDigestMismatch = errors.New("content does not match its digest")

// blobStore holds blobs by digest, for every repository alike (a mount is
// therefore always possible when the blob exists). Two kinds: in memory and
// in a directory laid out as go-containerregistry's disk blob handler lays
// it out (dir/<algorithm>/<hex>), so roots written by earlier versions keep
// their blobs.
type blobStore interface {
	// open returns the blob's content and size, or errBlobUnknown.
	open(h v1.Hash) (io.ReadSeekCloser, int64, error)
	// stat returns the blob's size, or errBlobUnknown.
	stat(h v1.Hash) (int64, error)
	// put stores what r yields under h if its digest is h, and fails
	// with errDigestMismatch (storing nothing) if it is not.
	put(h v1.Hash, r io.Reader) error
	// delete removes the blob, or fails with errBlobUnknown.
	delete(h v1.Hash) error
}

// verifying reads r into w and checks that it hashes to h.
func verifying(h v1.Hash, w io.Writer, r io.Reader) error {
	hasher, err := v1.Hasher(h.Algorithm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.MultiWriter(w, hasher), r); err != nil {
		return err
	}
	if got := fmt.Sprintf("%x", hasher.Sum(nil)); got != h.Hex {
		return fmt.Errorf("%w: content is %s:%s, not %s", errDigestMismatch, h.Algorithm, got, h)
	}
	return nil
}

// memBlobs is the in-memory blobStore.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[v1.Hash][]byte
}

func newMemBlobs() *memBlobs { return &memBlobs{blobs: map[v1.Hash][]byte{}} }

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

func (m *memBlobs) open(h v1.Hash) (io.ReadSeekCloser, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[h]
	if !ok {
		return nil, 0, errBlobUnknown
	}
	return nopSeekCloser{bytes.NewReader(b)}, int64(len(b)), nil
}

func (m *memBlobs) stat(h v1.Hash) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[h]
	if !ok {
		return 0, errBlobUnknown
	}
	return int64(len(b)), nil
}

func (m *memBlobs) put(h v1.Hash, r io.Reader) error {
	var buf bytes.Buffer
	if err := verifying(h, &buf, r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[h] = buf.Bytes()
	return nil
}

func (m *memBlobs) delete(h v1.Hash) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[h]; !ok {
		return errBlobUnknown
	}
	delete(m.blobs, h)
	return nil
}

// diskBlobs is the blobStore in a directory: dir/<algorithm>/<hex>, each
// written to a temporary file in dir and renamed into place once its
// digest is checked, so a blob file is always complete.
type diskBlobs struct {
	dir string
}

func (d *diskBlobs) path(h v1.Hash) string { return filepath.Join(d.dir, h.Algorithm, h.Hex) }

func (d *diskBlobs) open(h v1.Hash) (io.ReadSeekCloser, int64, error) {
	f, err := os.Open(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, errBlobUnknown
	} else if err != nil {
		return nil, 0, fmt.Errorf("blob %s: %w", h, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blob %s: %w", h, err)
	}
	return f, fi.Size(), nil
}

func (d *diskBlobs) stat(h v1.Hash) (int64, error) {
	fi, err := os.Stat(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errBlobUnknown
	} else if err != nil {
		return 0, fmt.Errorf("blob %s: %w", h, err)
	}
	return fi.Size(), nil
}

func (d *diskBlobs) put(h v1.Hash, r io.Reader) error {
	f, err := os.CreateTemp(d.dir, "upload-*")
	if err != nil {
		return fmt.Errorf("storing blob %s: %w", h, err)
	}
	tmp := f.Name()
	err = verifying(h, f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(d.path(h)), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp, d.path(h))
	}
	if err != nil {
		os.Remove(tmp)
		if errors.Is(err, errDigestMismatch) {
			return err
		}
		return fmt.Errorf("storing blob %s: %w", h, err)
	}
	return nil
}

func (d *diskBlobs) delete(h v1.Hash) error {
	err := os.Remove(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return errBlobUnknown
	} else if err != nil {
		return fmt.Errorf("deleting blob %s: %w", h, err)
	}
	return nil
}
