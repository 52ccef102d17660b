// Package registry is the OCI registry referee runs for local work, its demo
// and its tests: go-containerregistry's pkg/registry (a real, spec-following
// registry), optionally persisted to a directory, and a Serve function that
// runs it on a TCP address until a context is cancelled.
//
// One process at a time may use a given Root.
package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// MaxManifestSize bounds the body of a manifest PUT (4 MiB, the limit most
// registries apply). A larger manifest is refused with 413.
const MaxManifestSize = 4 << 20

// Options configures New.
type Options struct {
	// Root is the directory that persists the registry: blobs under
	// Root/blobs and manifests in the journal Root/manifests.jsonl. Empty
	// keeps everything in memory, lost when the process ends.
	Root string
	// NoReferrers turns off the OCI 1.1 referrers API
	// (GET /v2/<name>/referrers/<digest> answers 404), to emulate registries
	// where clients must fall back to the referrers tag schema.
	NoReferrers bool
	// Logger receives one line per request and warnings (a torn journal
	// line). Nil discards them.
	Logger *log.Logger
}

// New returns an http.Handler serving the OCI distribution API at the site
// root (/v2/...). With opts.Root set it first replays the manifest journal,
// so a restarted registry serves the tags, manifests and referrers it had.
func New(opts Options) (http.Handler, error) {
	logger := opts.Logger
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	// Requests are logged at the door (logRequests), so that neither the
	// journal replay nor the referrers fixes' own reads show in the log.
	gopts := []ggcr.Option{
		ggcr.Logger(log.New(io.Discard, "", 0)),
		ggcr.WithReferrersSupport(!opts.NoReferrers),
	}
	fix := func(h http.Handler) http.Handler {
		if !opts.NoReferrers {
			h = &specFixes{inner: h}
		}
		if opts.Logger != nil {
			h = logRequests(h, logger)
		}
		return h
	}
	if opts.Root == "" {
		// No journal, but the same checks on manifest writes.
		return fix(&journaled{inner: ggcr.New(gopts...), log: logger}), nil
	}
	blobs := filepath.Join(opts.Root, "blobs")
	// The disk blob handler creates its temporary files in this directory
	// and does not create it.
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, fmt.Errorf("registry root: %w", err)
	}
	gopts = append(gopts, ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(blobs)))
	j := &journaled{
		inner: ggcr.New(gopts...),
		path:  filepath.Join(opts.Root, journalName),
		log:   logger,
	}
	n, err := j.replay()
	if err != nil {
		return nil, err
	}
	if n > 0 {
		logger.Printf("registry: replayed %d manifest changes from %s", n, j.path)
	}
	return fix(j), nil
}

// logRequests logs one line per request: method, path and status.
func logRequests(h http.Handler, logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		logger.Printf("%s %s %d", r.Method, r.URL.RequestURI(), sw.status)
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Serve listens on addr (host:port; port 0 picks a free port), calls ready
// (if not nil) with the address actually bound, and serves h until ctx is
// cancelled; it then stops accepting connections and waits up to five
// seconds for requests in flight. It returns nil after a shutdown caused by
// ctx, and the error otherwise.
func Serve(ctx context.Context, addr string, h http.Handler, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err // Serve never returns nil
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("registry shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// manifestPath splits a manifest URL path (/v2/<name>/manifests/<ref>) as
// go-containerregistry routes it: blob and upload paths take precedence, and
// the name is everything between /v2/ and /manifests/.
func manifestPath(p string) (repo, ref string, ok bool) {
	if !strings.HasPrefix(p, "/") {
		return "", "", false
	}
	elem := strings.Split(p, "/")[1:]
	b := elem
	if b[len(b)-1] == "" {
		b = b[:len(b)-1]
	}
	if len(b) >= 3 && (b[len(b)-2] == "blobs" || b[len(b)-3] == "blobs" && b[len(b)-2] == "uploads") {
		return "", "", false
	}
	if len(elem) < 4 || elem[0] != "v2" || elem[len(elem)-2] != "manifests" {
		return "", "", false
	}
	return strings.Join(elem[1:len(elem)-2], "/"), elem[len(elem)-1], true
}

// writeError writes an error in the distribution spec's JSON form.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`+"\n", code, msg)
}

// journaled adds manifest persistence to go-containerregistry's registry.
//
// Why this layer exists: ggcr's registry keeps manifests (and with them
// tags and the referrers index, which it computes from stored manifests) in
// a map in memory, and unlike blobs offers no pluggable manifest storage.
// So every manifest change that succeeds is appended to a journal, and on
// start the journal is replayed through the same handler — the registry
// logic stays ggcr's own, the journal only re-issues the requests.
type journaled struct {
	inner http.Handler
	path  string // the journal; empty when in memory
	log   *log.Logger
	// mu serializes manifest writes so the journal's order is the order in
	// which the handler applied them (two PUTs of one tag must replay with
	// the same winner).
	mu sync.Mutex
}

func (j *journaled) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPut && req.Method != http.MethodDelete {
		j.inner.ServeHTTP(w, req)
		return
	}
	repo, ref, ok := manifestPath(req.URL.Path)
	if !ok {
		j.inner.ServeHTTP(w, req)
		return
	}
	var body []byte
	if req.Method == http.MethodPut {
		// ggcr ignores read errors on the body, so a client that
		// disconnects mid-upload (or an over-long body) would be stored
		// truncated; read it here, bounded, and fail properly.
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, req.Body, MaxManifestSize))
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "MANIFEST_INVALID",
				fmt.Sprintf("manifest larger than %d bytes", MaxManifestSize))
			return
		} else if err != nil {
			writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "reading manifest: "+err.Error())
			return
		}
		// ggcr stores a manifest under whatever digest the URL names;
		// real registries refuse a mismatch.
		if h, err := v1.NewHash(ref); err == nil && h.Algorithm == "sha256" {
			if got, _, _ := v1.SHA256(bytes.NewReader(body)); got != h {
				writeError(w, http.StatusBadRequest, "DIGEST_INVALID",
					fmt.Sprintf("manifest digest is %s, not %s", got, h))
				return
			}
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	e := entry{Method: req.Method, Repo: repo, Reference: ref, ContentType: req.Header.Get("Content-Type"), Body: body}

	j.mu.Lock()
	defer j.mu.Unlock()
	rec := newRecorder()
	j.inner.ServeHTTP(rec, req)
	if rec.status/100 == 2 && j.path != "" {
		if err := j.append(e); err != nil {
			// The handler has applied the change in memory, but it would
			// not survive a restart: tell the client it failed.
			j.log.Printf("registry: %v", err)
			writeError(w, http.StatusInternalServerError, "UNKNOWN", "persisting manifest: "+err.Error())
			return
		}
	}
	rec.copyTo(w)
}

// recorder buffers a manifest write's response until it is journaled.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	w.WriteHeader(r.status)
	w.Write(r.body.Bytes())
}
