package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	orasregistry "oras.land/oras-go/v2/registry"
)

// blobAPI serves the blob half of the distribution API itself, and passes
// every other request to next (go-containerregistry's registry, for
// manifests, tags and referrers):
//
//	GET, HEAD, DELETE /v2/<name>/blobs/<digest>
//	POST              /v2/<name>/blobs/uploads/[?digest=|?mount=&from=]
//	GET, PATCH, PUT, DELETE /v2/<name>/blobs/uploads/<id>
//
// It exists because go-containerregistry's blob uploads depart from
// distribution-spec v1.1: no Location on the 201 answers, no upload-status
// GET, sha512 blobs unreadable from disk, only "bytes=a-b" ranges, and
// upload sessions that are never forgotten.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-blobs
type blobAPI struct {
	store   blobStore
	uploads *uploads
	next    http.Handler
}

// blobPath splits a blob URL path as go-containerregistry routes it: a path
// ending in /blobs/<x> or /blobs/uploads/<id>. kind is "blob" (target a
// digest), "uploads" (POST: a new session) or "session" (target an id).
func blobPath(p string) (repo, kind, target string, ok bool) {
	elem := strings.Split(p, "/")
	if len(elem) < 2 || elem[0] != "" || elem[1] != "v2" {
		return "", "", "", false
	}
	elem = elem[2:]
	if len(elem) > 0 && elem[len(elem)-1] == "" {
		elem = elem[:len(elem)-1]
	}
	n := len(elem)
	switch {
	case n >= 3 && elem[n-2] == "blobs" && elem[n-1] == "uploads":
		return strings.Join(elem[:n-2], "/"), "uploads", "", true
	case n >= 4 && elem[n-3] == "blobs" && elem[n-2] == "uploads":
		return strings.Join(elem[:n-3], "/"), "session", elem[n-1], true
	case n >= 3 && elem[n-2] == "blobs":
		return strings.Join(elem[:n-2], "/"), "blob", elem[n-1], true
	}
	return "", "", "", false
}

func (b *blobAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	repo, kind, target, ok := blobPath(r.URL.Path)
	if !ok {
		b.next.ServeHTTP(w, r)
		return
	}
	if (orasregistry.Reference{Repository: repo}).ValidateRepository() != nil { // the spec's grammar
		writeError(w, http.StatusBadRequest, "NAME_INVALID", fmt.Sprintf("%q is not a valid repository name", repo))
		return
	}
	switch {
	case kind == "blob" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		b.get(w, r, target)
	case kind == "blob" && r.Method == http.MethodDelete:
		b.delete(w, target)
	case kind == "uploads" && r.Method == http.MethodPost:
		b.post(w, r, repo)
	case kind == "session" && r.Method == http.MethodGet:
		b.status(w, repo, target)
	case kind == "session" && r.Method == http.MethodPatch:
		b.patch(w, r, repo, target)
	case kind == "session" && r.Method == http.MethodPut:
		b.put(w, r, repo, target)
	case kind == "session" && r.Method == http.MethodDelete:
		b.cancel(w, repo, target)
	default:
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", fmt.Sprintf("%s is not a method for %s", r.Method, r.URL.Path))
	}
}

// parseDigest reads a digest of an algorithm the registry can check
// (sha256, sha512), or writes 400 DIGEST_INVALID.
func parseDigest(w http.ResponseWriter, s string) (v1.Hash, bool) {
	h, err := v1.NewHash(s)
	if err != nil {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("digest %q: %v", s, err))
		return v1.Hash{}, false
	}
	return h, true
}

func blobURL(repo string, h v1.Hash) string { return "/v2/" + repo + "/blobs/" + h.String() }

func uploadURL(s *upload) string { return "/v2/" + s.repo + "/blobs/uploads/" + s.id }

// created answers a finished upload or mount: 201 with the blob's URL.
func created(w http.ResponseWriter, repo string, h v1.Hash) {
	w.Header().Set("Location", blobURL(repo, h))
	w.Header().Set("Docker-Content-Digest", h.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// sessionHeaders are the headers of every answer about a live session:
// where to send the next request and how much has arrived.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-a-blob-in-chunks
func sessionHeaders(w http.ResponseWriter, s *upload) {
	w.Header().Set("Location", uploadURL(s))
	w.Header().Set("Docker-Upload-UUID", s.id)
	end := s.size - 1
	if end < 0 {
		end = 0 // distribution's convention for an empty upload
	}
	w.Header().Set("Range", "0-"+strconv.FormatInt(end, 10))
}

// storeError answers a failed blobStore.put.
func storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, errDigestMismatch) {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", err.Error())
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, io.ErrUnexpectedEOF) {
		writeError(w, http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "reading blob: "+err.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
}

func (b *blobAPI) get(w http.ResponseWriter, r *http.Request, target string) {
	h, ok := parseDigest(w, target)
	if !ok {
		return
	}
	f, _, err := b.store.open(h)
	if errors.Is(err, errBlobUnknown) {
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry: "+h.String())
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	defer f.Close()
	w.Header().Set("Docker-Content-Digest", h.String())
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+h.String()+`"`)
	// ServeContent answers Range requests (206, or 416 when none of the
	// range is in the blob) and HEAD.
	http.ServeContent(w, r, "", time.Time{}, f)
}

func (b *blobAPI) delete(w http.ResponseWriter, target string) {
	h, ok := parseDigest(w, target)
	if !ok {
		return
	}
	if err := b.store.delete(h); errors.Is(err, errBlobUnknown) {
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry: "+h.String())
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// post opens an upload, or with ?digest= stores the body as the whole blob
// (a monolithic upload), or with ?mount= links a blob the registry holds.
// Blobs are shared by all repositories, so a mount succeeds whenever the
// blob exists, with or without ?from=; otherwise it opens an upload.
func (b *blobAPI) post(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	if m := q.Get("mount"); m != "" {
		if h, err := v1.NewHash(m); err == nil {
			if _, err := b.store.stat(h); err == nil {
				created(w, repo, h)
				return
			}
		}
	} else if d := q.Get("digest"); d != "" {
		h, ok := parseDigest(w, d)
		if !ok {
			return
		}
		if err := b.store.put(h, r.Body); err != nil {
			storeError(w, err)
			return
		}
		created(w, repo, h)
		return
	}
	s, err := b.uploads.start(repo)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	sessionHeaders(w, s)
	w.WriteHeader(http.StatusAccepted)
}

// session returns the locked session id of repo, or answers 404.
func (b *blobAPI) session(w http.ResponseWriter, repo, id string) *upload {
	s := b.uploads.get(repo, id)
	if s == nil {
		writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry: "+id)
	}
	return s
}

func (b *blobAPI) status(w http.ResponseWriter, repo, id string) {
	s := b.session(w, repo, id)
	if s == nil {
		return
	}
	defer s.mu.Unlock()
	sessionHeaders(w, s)
	w.WriteHeader(http.StatusNoContent)
}

func (b *blobAPI) cancel(w http.ResponseWriter, repo, id string) {
	s := b.session(w, repo, id)
	if s == nil {
		return
	}
	defer s.mu.Unlock()
	b.uploads.finish(s)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

// chunk appends the request body to s, checking its Content-Range (which
// must start where the upload stands; 416 otherwise). It answers and
// returns false on failure.
func (b *blobAPI) chunk(w http.ResponseWriter, r *http.Request, s *upload) bool {
	limit := int64(-1)
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, ok := parseContentRange(cr)
		if !ok {
			sessionHeaders(w, s)
			writeError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", fmt.Sprintf("Content-Range %q is not <start>-<end>", cr))
			return false
		}
		if start != s.size {
			sessionHeaders(w, s)
			writeError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID",
				fmt.Sprintf("chunk starts at %d, but the upload has %d bytes", start, s.size))
			return false
		}
		limit = end - start + 1
	}
	err := b.uploads.appendFrom(s, r.Body, limit)
	if err != nil {
		sessionHeaders(w, s)
		writeError(w, http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "reading chunk: "+err.Error())
		return false
	}
	return true
}

// parseContentRange reads a chunk's Content-Range: "<start>-<end>", as the
// spec writes it (a "bytes " prefix is accepted too).
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes ")
	a, z, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(z, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

func (b *blobAPI) patch(w http.ResponseWriter, r *http.Request, repo, id string) {
	s := b.session(w, repo, id)
	if s == nil {
		return
	}
	defer s.mu.Unlock()
	if !b.chunk(w, r, s) {
		return
	}
	sessionHeaders(w, s)
	w.WriteHeader(http.StatusAccepted)
}

// put finishes an upload: the body, if any, is its last chunk, and the
// whole must match ?digest=. A mismatch ends the session.
func (b *blobAPI) put(w http.ResponseWriter, r *http.Request, repo, id string) {
	s := b.session(w, repo, id)
	if s == nil {
		return
	}
	defer s.mu.Unlock()
	d := r.URL.Query().Get("digest")
	if d == "" {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "finishing an upload needs ?digest=")
		return
	}
	h, ok := parseDigest(w, d)
	if !ok {
		return
	}
	if !b.chunk(w, r, s) {
		return
	}
	rc, err := b.uploads.content(s)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	err = b.store.put(h, rc)
	rc.Close()
	if err != nil && !errors.Is(err, errDigestMismatch) {
		storeError(w, err)
		return
	}
	b.uploads.finish(s)
	if err != nil {
		storeError(w, err)
		return
	}
	created(w, repo, h)
}
