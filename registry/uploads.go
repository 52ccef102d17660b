package registry

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// uploadsName is the directory of upload sessions under Options.Root.
const uploadsName = "uploads"

// DefaultMaxUploads and DefaultUploadTimeout bound the blob uploads in
// progress when Options leaves MaxUploads and UploadTimeout zero.
const (
	DefaultMaxUploads    = 1000
	DefaultUploadTimeout = time.Hour
)

// uploads are the blob upload sessions in progress: opened by
// POST /v2/<name>/blobs/uploads/, fed by PATCH, finished by PUT, queried by
// GET, cancelled by DELETE.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-blobs
//
// Clients may forget a session, and hostile ones may open sessions by the
// thousand, so the table is bounded: a session idle for longer than ttl is
// dropped, and opening one beyond max drops the one idle longest. A dropped
// or unknown session is answered 404 BLOB_UPLOAD_UNKNOWN. Sessions are in
// memory, or with a root each in two files under Root/uploads (<id>.json
// names its repository, <id>.data holds what was sent), so they survive a
// restart of the registry.
type uploads struct {
	dir string // "" in memory
	max int    // sessions
	ttl time.Duration

	mu       sync.Mutex
	sessions map[string]*upload
}

// upload is one session. mu serializes the requests on it; size, data and
// gone are read and written under mu.
type upload struct {
	id, repo string
	mu       sync.Mutex
	size     int64
	data     []byte // in memory only
	last     time.Time
	gone     bool // dropped from the table; answer 404
}

type uploadMeta struct {
	Repo string `json:"repo"`
}

// newUploads returns the session table; with dir it reloads the sessions
// left there, dropping those already expired.
func newUploads(dir string, maxSessions int, ttl time.Duration) (*uploads, error) {
	if maxSessions <= 0 {
		maxSessions = DefaultMaxUploads
	}
	if ttl <= 0 {
		ttl = DefaultUploadTimeout
	}
	u := &uploads{dir: dir, max: maxSessions, ttl: ttl, sessions: map[string]*upload{}}
	if dir == "" {
		return u, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("blob uploads directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("blob uploads directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if id, ok := strings.CutSuffix(name, ".data"); ok && validUploadID(id) {
			if _, err := os.Stat(filepath.Join(dir, id+".json")); errors.Is(err, fs.ErrNotExist) {
				os.Remove(filepath.Join(dir, name)) // left by a crash in start
			}
			continue
		}
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || !validUploadID(id) {
			continue
		}
		s, err := u.load(id)
		if err != nil || time.Since(s.last) > ttl {
			u.removeFiles(id)
			continue
		}
		u.sessions[id] = s
	}
	for len(u.sessions) > u.max {
		u.evictOldest()
	}
	return u, nil
}

// load reads a session's files.
func (u *uploads) load(id string) (*upload, error) {
	b, err := os.ReadFile(filepath.Join(u.dir, id+".json"))
	if err != nil {
		return nil, err
	}
	var m uploadMeta
	if err := json.Unmarshal(b, &m); err != nil || m.Repo == "" {
		return nil, fmt.Errorf("upload %s: bad metadata", id)
	}
	fi, err := os.Stat(filepath.Join(u.dir, id+".data"))
	if err != nil {
		return nil, err
	}
	return &upload{id: id, repo: m.Repo, size: fi.Size(), last: fi.ModTime()}, nil
}

func (u *uploads) removeFiles(id string) {
	if u.dir == "" {
		return
	}
	os.Remove(filepath.Join(u.dir, id+".data"))
	os.Remove(filepath.Join(u.dir, id+".json"))
}

// validUploadID says whether id could be one this registry made (32 hex
// digits), so that no other string reaches the file system.
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// start opens a session for repo.
func (u *uploads) start(repo string) (*upload, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	s := &upload{id: hex.EncodeToString(b[:]), repo: repo, last: time.Now()}
	if u.dir != "" {
		meta, _ := json.Marshal(uploadMeta{Repo: repo})
		if err := os.WriteFile(filepath.Join(u.dir, s.id+".data"), nil, 0o644); err != nil {
			return nil, fmt.Errorf("starting blob upload: %w", err)
		}
		if err := os.WriteFile(filepath.Join(u.dir, s.id+".json"), meta, 0o644); err != nil {
			u.removeFiles(s.id)
			return nil, fmt.Errorf("starting blob upload: %w", err)
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.expireLocked()
	for len(u.sessions) >= u.max {
		if !u.evictOldest() {
			break // all busy: a request each, so still bounded
		}
	}
	u.sessions[s.id] = s
	return s, nil
}

// get returns repo's session id, locked, or nil if there is none (never
// opened, finished, cancelled, expired or dropped). The caller unlocks it.
func (u *uploads) get(repo, id string) *upload {
	u.mu.Lock()
	u.expireLocked()
	s := u.sessions[id]
	u.mu.Unlock()
	if s == nil || s.repo != repo {
		return nil
	}
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return nil
	}
	s.last = time.Now()
	if u.dir != "" {
		// The data file's time is the session's idle time after a restart.
		os.Chtimes(filepath.Join(u.dir, s.id+".data"), s.last, s.last)
	}
	return s
}

// finish drops a session (locked by the caller) that is done with.
func (u *uploads) finish(s *upload) {
	u.mu.Lock()
	delete(u.sessions, s.id)
	u.mu.Unlock()
	s.gone = true
	s.data = nil
	u.removeFiles(s.id)
}

// expireLocked drops the sessions idle for longer than ttl. Sessions busy
// with a request are left alone. u.mu is held.
func (u *uploads) expireLocked() {
	now := time.Now()
	for id, s := range u.sessions {
		if !s.mu.TryLock() {
			continue
		}
		if now.Sub(s.last) > u.ttl {
			delete(u.sessions, id)
			s.gone, s.data = true, nil
			u.removeFiles(id)
		}
		s.mu.Unlock()
	}
}

// evictOldest drops the session idle longest that no request is busy
// with, and says whether it dropped one. u.mu is held.
func (u *uploads) evictOldest() bool {
	all := make([]*upload, 0, len(u.sessions))
	for _, s := range u.sessions {
		all = append(all, s)
	}
	// last is written under s.mu; a session whose lock is taken is busy
	// and skipped, so read last only with the lock held.
	type idle struct {
		s    *upload
		last time.Time
	}
	var free []idle
	for _, s := range all {
		if s.mu.TryLock() {
			free = append(free, idle{s, s.last})
		}
	}
	defer func() {
		for _, f := range free {
			f.s.mu.Unlock()
		}
	}()
	if len(free) == 0 {
		return false
	}
	sort.Slice(free, func(i, j int) bool { return free[i].last.Before(free[j].last) })
	s := free[0].s
	delete(u.sessions, s.id)
	s.gone, s.data = true, nil
	u.removeFiles(s.id)
	return true
}

// appendFrom adds what r yields to the session (locked by the caller).
// With want >= 0 that must be exactly want bytes (a chunk's Content-Range).
// If reading fails or the length is wrong, the session is left as it was.
func (u *uploads) appendFrom(s *upload, r io.Reader, want int64) error {
	if want >= 0 {
		r = io.LimitReader(r, want+1)
	}
	check := func(n int64, err error) error {
		if err == nil && want >= 0 && n != want {
			err = fmt.Errorf("the chunk is %d bytes, its Content-Range says %d", n, want)
		}
		return err
	}
	if u.dir == "" {
		var buf bytes.Buffer
		if err := check(buf.ReadFrom(r)); err != nil {
			return err
		}
		s.data = append(s.data, buf.Bytes()...)
		s.size += int64(buf.Len())
		return nil
	}
	f, err := os.OpenFile(filepath.Join(u.dir, s.id+".data"), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("blob upload %s: %w", s.id, err)
	}
	defer f.Close()
	if _, err := f.Seek(s.size, io.SeekStart); err != nil {
		return fmt.Errorf("blob upload %s: %w", s.id, err)
	}
	n, err := io.Copy(f, r)
	if err := check(n, err); err != nil {
		f.Truncate(s.size)
		return err
	}
	s.size += n
	return nil
}

// content returns what the session (locked by the caller) holds.
func (u *uploads) content(s *upload) (io.ReadCloser, error) {
	if u.dir == "" {
		return io.NopCloser(bytes.NewReader(s.data)), nil
	}
	f, err := os.Open(filepath.Join(u.dir, s.id+".data"))
	if err != nil {
		return nil, fmt.Errorf("blob upload %s: %w", s.id, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, s.size), f}, nil
}
