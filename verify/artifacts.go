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
	"os"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/referee-dev/referee/attest"
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

// StagedArtifact is one artifact an inspection is given: its path as the
// link of Step records it, with the hashes recorded there.
type StagedArtifact struct {
	Path string
	Step string
	Hash attest.HashObj
}

// staged is what the inspections of one choice of links see: every
// product those links record (the image excepted), by path, with the step
// whose link records it; the available ones are those whose bytes
// Options.Artifacts has.
type staged struct {
	recorded  map[string]StagedArtifact
	available map[string]attest.HashObj
	// why says, for a recorded artifact that is not available, why.
	why map[string]error
	fp  string
}

// list returns the available artifacts sorted by path.
func (s *staged) list() []StagedArtifact {
	out := make([]StagedArtifact, 0, len(s.available))
	for _, p := range sortedKeys(s.available) {
		out = append(out, s.recorded[p])
	}
	return out
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

// stage collects the products that the links of layout's steps record
// and finds which of them are available. A path recorded by two steps
// with different hashes is the later step's (in the layout's order, the
// order of the supply chain): an older version is never staged under the
// same name.
func stage(ctx context.Context, layout *attest.Layout, links map[string]*attest.Link, cache *artifactCache) *staged {
	s := &staged{recorded: map[string]StagedArtifact{}, available: map[string]attest.HashObj{}, why: map[string]error{}}
	for _, st := range layout.Steps {
		l := links[st.Name]
		if l == nil {
			continue
		}
		for p, h := range l.Products {
			if p == attest.ImageArtifact {
				continue // the image manifest, not a file
			}
			s.recorded[p] = StagedArtifact{Path: p, Step: st.Name, Hash: h}
		}
	}
	paths := sortedKeys(s.recorded)
	errs := make([]error, len(paths))
	var g errgroup.Group
	g.SetLimit(fetchWorkers)
	for i, p := range paths {
		hx := s.recorded[p].Hash["sha256"]
		if !isSHA256Hex(hx) {
			errs[i] = errors.New("its link records no sha256")
			continue
		}
		g.Go(func() error {
			errs[i] = cache.available(ctx, p, hx)
			return nil
		})
	}
	_ = g.Wait()
	for i, p := range paths {
		if errs[i] != nil {
			s.why[p] = errs[i]
			continue
		}
		s.available[p] = s.recorded[p].Hash
	}
	// What is recorded, not only what is available, tells two sets
	// apart: a failure names the step that records a missing artifact.
	recorded := map[string]attest.HashObj{}
	for p, a := range s.recorded {
		recorded[p+"\x00"+a.Step] = a.Hash
	}
	s.fp = artifactFingerprint(&attest.Link{Materials: s.available, Products: recorded})
	return s
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// missingReason says why path cannot be given to inspection name: it is
// no artifact a verified link records, or it is recorded but its bytes
// are not available.
func (s *staged) missingReason(path, image string) string {
	a, ok := s.recorded[path]
	if !ok {
		return fmt.Sprintf("%q is not an artifact a verified link records", path)
	}
	hint := ""
	if image != "" {
		hint = fmt.Sprintf(" (attach it: referee attach IMAGE %s)", path)
	}
	return fmt.Sprintf("%q is recorded by step %q but not available: %v%s", path, a.Step, s.why[path], hint)
}
