package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// DirArtifacts is Artifacts over a local directory: the artifact at path
// is the regular file dir/path, read through an os.Root, so that neither
// ".." nor a symlink leads out of dir, and only when its bytes hash to the
// SHA-256 asked for.
type DirArtifacts string

var (
	_ Artifacts       = DirArtifacts("")
	_ ArtifactChecker = DirArtifacts("")
)

// Artifact reads dir/p whole and checks its SHA-256.
func (d DirArtifacts) Artifact(ctx context.Context, p, sha256hex string) ([]byte, error) {
	return d.read(ctx, p, sha256hex, -1)
}

// HasArtifact hashes dir/p as it reads it, keeping none of it.
func (d DirArtifacts) HasArtifact(ctx context.Context, p, sha256hex string) (bool, error) {
	f, err := d.open(ctx, p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, contextReader{ctx, f}); err != nil {
		return false, fmt.Errorf("artifact %s in %s: %w", p, d, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha256hex {
		return false, d.mismatch(p, got, sha256hex)
	}
	return true, nil
}

// artifactBounded reads dir/p whole when it is at most max bytes, and
// checks its SHA-256; a larger one is refused unread.
func (d DirArtifacts) artifactBounded(ctx context.Context, p, sha256hex string, max int64) ([]byte, error) {
	return d.read(ctx, p, sha256hex, max)
}

// read reads dir/p, at most max bytes of it when max >= 0.
func (d DirArtifacts) read(ctx context.Context, p, sha256hex string, max int64) ([]byte, error) {
	f, err := d.open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if max >= 0 {
		r = io.LimitReader(f, max+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("artifact %s in %s: %w", p, d, err)
	}
	if max >= 0 && int64(len(data)) > max {
		return nil, tooLarge(fmt.Sprintf("artifact %s in %s is more than the %d bytes a check reads", p, d, max))
	}
	if got := sha256Hex(data); got != sha256hex {
		return nil, d.mismatch(p, got, sha256hex)
	}
	return data, nil
}

// open opens dir/p, a regular file.
func (d DirArtifacts) open(ctx context.Context, p string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, fmt.Errorf("artifact directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(p)
	if err != nil {
		return nil, fmt.Errorf("artifact %s in %s: %w", p, d, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("artifact %s in %s: %w", p, d, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, notAvailable(fmt.Sprintf("artifact %s in %s is not a regular file", p, d))
	}
	return f, nil
}

func (d DirArtifacts) mismatch(p, got, want string) error {
	return notAvailable(fmt.Sprintf("artifact %s in %s hashes to sha256 %s, not to the %s recorded", p, d, shortHex(got), shortHex(want)))
}

// contextReader stops reading when its context is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// openArtifact opens dir/p, a regular file, read as it is hashed.
func (d DirArtifacts) openArtifact(ctx context.Context, p, _ string) (io.ReadCloser, error) {
	f, err := d.open(ctx, p)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{contextReader{ctx, f}, f}, nil
}
