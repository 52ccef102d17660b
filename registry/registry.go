// Package registry is the OCI registry referee runs for local work, its demo
// and its tests: go-containerregistry's pkg/registry for manifests and
// tags; blobs, blob uploads and the referrers list (from an index by
// subject) served by this package; corrected where they depart from
// distribution-spec v1.1 so that the OCI conformance suite passes; optionally persisted to a directory; and a Serve function that
// runs it on a TCP address until a context is cancelled.
//
// One registry at a time may use a given Root: New locks it. Beyond
// loopback the registry is served only over TLS and with authentication
// (an htpasswd file); see Serve.
package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// MaxManifestSize bounds the body of a manifest PUT (4 MiB, the limit most
// registries apply). A larger manifest is refused with 413.
const MaxManifestSize = 4 << 20

// Options configures New.
type Options struct {
	// Root is the directory that persists the registry: blobs under
	// Root/blobs, blob uploads in progress under Root/uploads and
	// manifests in the journal Root/manifests.jsonl. Empty
	// keeps everything in memory, lost when the process ends. A registry
	// holds an exclusive lock on Root (the file Root/registry.lock) until
	// Close or the end of its process: a second registry on the same Root
	// fails to start.
	Root string
	// NoReferrers turns off the OCI 1.1 referrers API
	// (GET /v2/<name>/referrers/<digest> answers 404), to emulate registries
	// where clients must fall back to the referrers tag schema.
	NoReferrers bool
	// Logger receives one line per request and warnings (a torn journal
	// line, journal lines skipped as harmless, failed logins). Nil
	// discards them. Passwords are never logged.
	Logger *log.Logger

	// TLSCertFile and TLSKeyFile are a PEM certificate (chain) and its
	// private key; with them Serve serves HTTPS. Both or neither.
	TLSCertFile, TLSKeyFile string
	// HtpasswdFile turns on HTTP Basic authentication (RFC 7617) for every
	// request: a file of user:hash lines with bcrypt hashes, as docker's
	// registry (distribution) reads it (made by htpasswd -B). Requests
	// without valid credentials are answered 401 UNAUTHORIZED with
	// WWW-Authenticate: Basic realm="referee"; credentials are accepted only
	// over TLS or from a loopback peer.
	// https://distribution.github.io/distribution/about/configuration/#htpasswd
	HtpasswdFile string
	// MaxUploads bounds the blob uploads in progress (opened by
	// POST /v2/<name>/blobs/uploads/, not yet finished or cancelled):
	// opening one more drops the one idle longest. Zero means
	// DefaultMaxUploads.
	MaxUploads int
	// UploadTimeout drops a blob upload that has had no request for that
	// long; its URL then answers 404 BLOB_UPLOAD_UNKNOWN. Zero means
	// DefaultUploadTimeout.
	UploadTimeout time.Duration

	// AnonymousPull lets requests without credentials read (GET and
	// HEAD; not the /v2/ base endpoint, which always asks for them so
	// clients learn to send them). Writes always need a user. Only with
	// HtpasswdFile.
	AnonymousPull bool
}

// Registry is the registry New returns: an http.Handler serving the OCI
// distribution API at the site root (/v2/...), to Serve or mount on a
// server of one's own. Close it to release its Root.
type Registry struct {
	handler http.Handler
	journal *journaled
	lock    *rootLock
	tls     *tls.Config // nil: plain HTTP
	auth    bool        // HtpasswdFile was given
	log     *log.Logger
	closed  atomic.Bool
}

// New returns a registry. With opts.Root set it first locks the root and
// replays the manifest journal, so a restarted registry serves the tags,
// manifests and referrers it had.
func New(opts Options) (*Registry, error) {
	logger := opts.Logger
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	r := &Registry{log: logger}
	if err := r.configureTLS(opts); err != nil {
		return nil, err
	}
	var auth *basicAuth
	switch {
	case opts.HtpasswdFile != "":
		users, err := loadHtpasswd(opts.HtpasswdFile)
		if err != nil {
			return nil, err
		}
		auth = newBasicAuth(users, opts.AnonymousPull, logger)
		r.auth = true
	case opts.AnonymousPull:
		return nil, errors.New("anonymous pulls asked for without an htpasswd file: without one, anonymous clients could push and delete too")
	}
	// Requests are logged at the door (logRequests), so that neither the
	// journal replay nor the fixes' own reads show in the log.
	gopts := []ggcr.Option{
		ggcr.Logger(log.New(io.Discard, "", 0)),
		ggcr.WithReferrersSupport(!opts.NoReferrers),
	}
	fix := func(h http.Handler) http.Handler {
		h = &manifestFixes{inner: h}
		if !opts.NoReferrers {
			h = &specFixes{inner: h, index: r.journal.index}
		}
		if auth != nil {
			auth.inner = h
			h = auth
		}
		if opts.Logger != nil {
			h = logRequests(h, logger)
		}
		return h
	}
	if opts.Root == "" {
		up, _ := newUploads("", opts.MaxUploads, opts.UploadTimeout)
		// No journal, but the same checks on manifest writes.
		r.journal = &journaled{inner: ggcr.New(gopts...), log: logger, index: newReferrersIndex()}
		r.handler = fix(&blobAPI{store: newMemBlobs(), uploads: up, next: r.journal})
		return r, nil
	}
	if err := os.MkdirAll(opts.Root, 0o755); err != nil {
		return nil, fmt.Errorf("registry root: %w", err)
	}
	lock, err := lockRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	blobs := filepath.Join(opts.Root, "blobs")
	// Blobs are first written to temporary files in this directory; those
	// left by a registry that died are removed (the lock says none is
	// writing).
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		lock.release()
		return nil, fmt.Errorf("registry root: %w", err)
	}
	if tmps, err := filepath.Glob(filepath.Join(blobs, "upload-*")); err == nil {
		for _, tmp := range tmps {
			os.Remove(tmp)
		}
	}
	up, err := newUploads(filepath.Join(opts.Root, uploadsName), opts.MaxUploads, opts.UploadTimeout)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("registry root: %w", err)
	}
	j := &journaled{
		inner: ggcr.New(gopts...),
		path:  filepath.Join(opts.Root, journalName),
		log:   logger,
		index: newReferrersIndex(),
	}
	st, err := j.replay()
	if err != nil {
		lock.release()
		return nil, err
	}
	switch {
	case st.skipped > 0:
		logger.Printf("registry: replayed %d manifest changes from %s, skipped %d harmless ones", st.applied, j.path, st.skipped)
	case st.applied > 0:
		logger.Printf("registry: replayed %d manifest changes from %s", st.applied, j.path)
	}
	r.journal, r.lock = j, lock
	r.handler = fix(&blobAPI{store: &diskBlobs{dir: blobs}, uploads: up, next: j})
	return r, nil
}

// configureTLS loads the certificate and key named by opts.
func (r *Registry) configureTLS(opts Options) error {
	switch {
	case opts.TLSCertFile == "" && opts.TLSKeyFile == "":
		return nil
	case opts.TLSCertFile == "":
		return fmt.Errorf("TLS key %s given without a certificate", opts.TLSKeyFile)
	case opts.TLSKeyFile == "":
		return fmt.Errorf("TLS certificate %s given without its key", opts.TLSCertFile)
	}
	cert, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", opts.TLSCertFile, opts.TLSKeyFile, err)
	}
	r.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return nil
}

// ServeHTTP serves the distribution API; after Close every request is
// answered 503.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.closed.Load() {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "registry closed")
		return
	}
	r.handler.ServeHTTP(w, req)
}

// Close stops the registry from serving (requests answer 503) and releases
// the lock on its root, after any manifest write in flight. Calling it
// again does nothing.
func (r *Registry) Close() error {
	r.journal.mu.Lock()
	defer r.journal.mu.Unlock()
	r.closed.Store(true)
	return r.lock.release()
}

// logRequests logs one line per request: method, path, status and, with
// authentication, the user.
func logRequests(h http.Handler, logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		info := &requestInfo{}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
		if info.user != "" {
			logger.Printf("%s %s %d (user %q)", r.Method, r.URL.RequestURI(), sw.status, info.user)
			return
		}
		logger.Printf("%s %s %d", r.Method, r.URL.RequestURI(), sw.status)
	})
}

// requestInfo is what inner layers tell logRequests about a request.
type requestInfo struct {
	user string // authenticated user; empty if none
}

type requestInfoKey struct{}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
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
// tags) in a map in memory, and unlike blobs offers no pluggable manifest
// storage. So every manifest change that succeeds is appended to a journal,
// and on start the journal is replayed through the same handler — the
// registry logic stays ggcr's own, the journal only re-issues the requests.
// Each change applied, replayed or not, also goes to the referrers index.
type journaled struct {
	inner http.Handler
	path  string // the journal; empty when in memory
	log   *log.Logger
	// index follows every manifest write the handler applies, in the
	// order it applies them, replayed ones included.
	index *referrersIndex
	// mu serializes manifest writes so the journal's order is the order in
	// which the handler applied them (two PUTs of one tag must replay with
	// the same winner).
	mu sync.Mutex
}

func (j *journaled) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if p := req.URL.Path; p != "/v2" && !strings.HasPrefix(p, "/v2/") {
		// go-containerregistry routes /<any>/<name>/manifests/<ref> as
		// a manifest of <name>, which would store a PUT unchecked and
		// unjournaled; its answer to any other path outside /v2/.
		writeError(w, http.StatusNotFound, "METHOD_UNKNOWN", "We don't understand your method + url")
		return
	}
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
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	e := entry{Method: req.Method, Repo: repo, Reference: ref, ContentType: req.Header.Get("Content-Type"), Body: body}

	j.mu.Lock()
	defer j.mu.Unlock()
	rec := newRecorder()
	j.inner.ServeHTTP(rec, req)
	if rec.status/100 == 2 {
		// Before the answer, so a client that has it sees the change
		// in the next listing.
		j.index.apply(e)
	}
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
