package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/referee-dev/referee/check"
)

// Artifacts gives inspections the bytes of artifacts that verified links
// record as products: a registry's artifact referrers, or a local
// directory (DirArtifacts).
type Artifacts interface {
	// Artifact returns the content recorded at path with SHA-256 sha256hex
	// (lowercase hex); an error wrapping fs.ErrNotExist when there is
	// none, or when the bytes it has do not hash to sha256hex.
	Artifact(ctx context.Context, path, sha256hex string) ([]byte, error)
}

// ArtifactChecker is an Artifacts that can tell whether it has an
// artifact without handing over its bytes; the engine asks it first, to
// learn which recorded products are available, and reads the bytes only of
// those a native check reads or a command inspection is given. HasArtifact
// reports true when it has the content recorded at path with SHA-256
// sha256hex (lowercase hex); false, and an error saying why, when it has
// other bytes there or cannot tell; false and nil when it has nothing at
// path.
type ArtifactChecker interface {
	HasArtifact(ctx context.Context, path, sha256hex string) (bool, error)
}

// artifactOpener is an Artifacts that can stream an artifact
// (DirArtifacts, and the engine's cache over one), so that staging it for
// a command inspection does not hold it in memory. The stream's bytes are
// not checked: its reader hashes them.
type artifactOpener interface {
	openArtifact(ctx context.Context, path, sha256hex string) (io.ReadCloser, error)
}

// openArtifact streams an artifact of src, from its bytes when src offers
// only those.
func openArtifact(ctx context.Context, src Artifacts, path, sha256hex string) (io.ReadCloser, error) {
	if o, ok := src.(artifactOpener); ok {
		return o.openArtifact(ctx, path, sha256hex)
	}
	if src == nil {
		return nil, notAvailable("no artifacts were given to the verification")
	}
	data, err := src.Artifact(ctx, path, sha256hex)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// tooLarge is an artifact larger than a check reads.
type tooLarge string

func (e tooLarge) Error() string { return string(e) }

// boundedArtifacts is an Artifacts that can refuse, unread, an artifact
// larger than a check reads (DirArtifacts).
type boundedArtifacts interface {
	artifactBounded(ctx context.Context, path, sha256hex string, max int64) ([]byte, error)
}

// notAvailable is an artifact that is not available, for the reason it
// says; it is an fs.ErrNotExist.
type notAvailable string

func (e notAvailable) Error() string { return string(e) }

func (e notAvailable) Is(target error) bool { return target == fs.ErrNotExist }

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// keptBytes bounds the artifacts whose bytes stay in memory for the whole
// verification: those a check reads (larger ones it refuses). The others
// are checked for availability (by an ArtifactChecker without reading
// them) and read when an inspection's directory is filled.
const keptBytes = check.MaxDocumentBytes

// fetchWorkers bounds the artifacts read at once.
const fetchWorkers = 8

// artifactCache reads artifacts from a source once per verification and
// checks their SHA-256 whatever the source says. It keeps the bytes of
// the paths in keep (the files native checks read), the outcome of all.
type artifactCache struct {
	src  Artifacts
	keep map[string]bool
	mu   sync.Mutex
	m    map[[2]string]*fetched
}

type fetched struct {
	err  error
	data []byte
	kept bool
}

func newArtifactCache(src Artifacts, keep map[string]bool) *artifactCache {
	return &artifactCache{src: src, keep: keep, m: map[[2]string]*fetched{}}
}

// Artifact returns the bytes of path with SHA-256 sha256hex, checked, to
// stage them for a command inspection.
func (c *artifactCache) Artifact(ctx context.Context, path, sha256hex string) ([]byte, error) {
	return c.get(ctx, path, sha256hex, false)
}

// forCheck returns the bytes of path for a native check, once: a source
// that can (DirArtifacts) refuses, unread, one larger than a check reads.
func (c *artifactCache) forCheck(ctx context.Context, path, sha256hex string) ([]byte, error) {
	return c.get(ctx, path, sha256hex, true)
}

func (c *artifactCache) get(ctx context.Context, path, sha256hex string, forCheck bool) ([]byte, error) {
	if f := c.lookup(path, sha256hex); f != nil && (f.err != nil || f.kept) {
		return f.data, f.err
	}
	data, err := c.fetch(ctx, path, sha256hex, forCheck)
	var big tooLarge
	if !errors.As(err, &big) { // too large for a check, not for a command
		c.remember(ctx, path, sha256hex, data, err)
	}
	return data, err
}

// available says whether the artifact can be read, asking the source at
// most once per verification: an ArtifactChecker without reading it;
// another by reading it.
func (c *artifactCache) available(ctx context.Context, path, sha256hex string) error {
	if f := c.lookup(path, sha256hex); f != nil {
		return f.err
	}
	ac, ok := c.src.(ArtifactChecker)
	if !ok {
		_, err := c.get(ctx, path, sha256hex, false)
		return err
	}
	has, err := ac.HasArtifact(ctx, path, sha256hex)
	if err == nil && !has {
		err = notAvailable("there is none at that path")
	}
	c.remember(ctx, path, sha256hex, nil, err)
	return err
}

func (c *artifactCache) lookup(path, sha256hex string) *fetched {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[[2]string{path, sha256hex}]
}

// remember records the outcome of asking the source, keeping data when a
// check reads path; a cancelled read says nothing of the artifact.
func (c *artifactCache) remember(ctx context.Context, path, sha256hex string, data []byte, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	f := &fetched{err: err}
	if err == nil && data != nil && c.keep[path] && len(data) <= keptBytes {
		f.data, f.kept = data, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[[2]string{path, sha256hex}]; old != nil && old.kept && !f.kept {
		return
	}
	c.m[[2]string{path, sha256hex}] = f
}

func (c *artifactCache) fetch(ctx context.Context, path, sha256hex string, forCheck bool) ([]byte, error) {
	if c.src == nil {
		return nil, notAvailable("no artifacts were given to the verification")
	}
	var data []byte
	var err error
	if b, ok := c.src.(boundedArtifacts); ok && forCheck {
		data, err = b.artifactBounded(ctx, path, sha256hex, keptBytes)
	} else {
		data, err = c.src.Artifact(ctx, path, sha256hex)
	}
	if err != nil {
		return nil, err
	}
	if got := sha256Hex(data); got != sha256hex {
		return nil, notAvailable(fmt.Sprintf("its bytes hash to sha256 %s, not to the %s the link records", shortHex(got), shortHex(sha256hex)))
	}
	return data, nil
}

// openArtifact streams the artifact from the bytes kept for a check, or
// from the source.
func (c *artifactCache) openArtifact(ctx context.Context, path, sha256hex string) (io.ReadCloser, error) {
	if f := c.lookup(path, sha256hex); f != nil && (f.err != nil || f.kept) {
		if f.err != nil {
			return nil, f.err
		}
		return io.NopCloser(bytes.NewReader(f.data)), nil
	}
	if _, ok := c.src.(artifactOpener); ok {
		return openArtifact(ctx, c.src, path, sha256hex)
	}
	data, err := c.Artifact(ctx, path, sha256hex)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}
