package registry

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// realm is the realm of the Basic challenge.
const realm = "referee"

// maxPasswordBytes is the longest password bcrypt reads; a longer one is
// refused rather than compared by its first 72 bytes.
const maxPasswordBytes = 72

// htpasswd maps a user to its bcrypt hash.
type htpasswd map[string][]byte

// loadHtpasswd reads an htpasswd file as docker's registry (distribution)
// does: one user:hash line per user, blank lines and lines starting with #
// ignored, surrounding white space trimmed. Only bcrypt hashes ($2a$, $2b$,
// $2y$: htpasswd -B) are accepted, as in distribution; a user named twice,
// or no user at all, is an error naming the file (and line).
// https://distribution.github.io/distribution/about/configuration/#htpasswd
func loadHtpasswd(path string) (htpasswd, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd file: %w", err)
	}
	users := htpasswd{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("htpasswd file %s:%d: not a user:hash line", path, n)
		case user == "":
			return nil, fmt.Errorf("htpasswd file %s:%d: empty user name", path, n)
		case users[user] != nil:
			return nil, fmt.Errorf("htpasswd file %s:%d: user %q is named twice", path, n, user)
		case !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$"):
			return nil, fmt.Errorf("htpasswd file %s:%d: user %q: only bcrypt hashes ($2y$…, made by htpasswd -B) are accepted", path, n, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("htpasswd file %s:%d: user %q: not a valid bcrypt hash", path, n, user)
		}
		users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("htpasswd file %s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("htpasswd file %s names no user", path)
	}
	return users, nil
}

// basicAuth asks every request for HTTP Basic credentials checked against
// an htpasswd file, and answers distribution's 401 (UNAUTHORIZED, with
// WWW-Authenticate: Basic realm="referee") without them. With
// anonymousPull, GET and HEAD without credentials pass (except the base
// endpoint /v2/, so that clients holding credentials learn to send them);
// a request with wrong credentials is refused either way.
//
// Passwords are compared by bcrypt at the cost the hash records, and an
// unknown user costs the same bcrypt comparison as a known one. A
// successful check is remembered (as an HMAC under a key of this process,
// never the password) so the many requests of one push cost one bcrypt;
// failures are never remembered. Credentials are accepted only over TLS
// or from a loopback peer (a TLS proxy in front): Basic credentials sent
// in clear elsewhere are refused, since anyone on the path could replay
// them.
type basicAuth struct {
	inner         http.Handler
	users         htpasswd
	anonymousPull bool
	log           *log.Logger
	decoy         []byte        // the costliest hash: compared for unknown users
	sem           chan struct{} // bounds bcrypt comparisons running at once
	key           []byte        // HMAC key for the cache
	mu            sync.Mutex
	good          map[[sha256.Size]byte]bool // verified credentials
}

// maxRemembered bounds the cache of verified credentials; it is emptied
// when full.
const maxRemembered = 1024

func newBasicAuth(users htpasswd, anonymousPull bool, logger *log.Logger) *basicAuth {
	a := &basicAuth{
		users:         users,
		anonymousPull: anonymousPull,
		log:           logger,
		sem:           make(chan struct{}, runtime.GOMAXPROCS(0)),
		key:           make([]byte, 32),
		good:          map[[sha256.Size]byte]bool{},
	}
	rand.Read(a.key) // never fails (crypto/rand)
	best := -1
	for _, h := range users {
		if c, _ := bcrypt.Cost(h); c > best {
			best, a.decoy = c, h
		}
	}
	return a
}

func (a *basicAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		if a.anonymousPull && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !isBase(r.URL.Path) {
			a.inner.ServeHTTP(w, r)
			return
		}
		challenge(w, "authentication required")
		return
	}
	user, pass, ok := r.BasicAuth()
	switch {
	case !ok:
		challenge(w, "only Basic authentication is accepted")
		return
	case !secureChannel(r):
		a.log.Printf("registry: refused credentials for user %q from %s: sent without TLS", user, r.RemoteAddr)
		challenge(w, "credentials are accepted only over TLS")
		return
	}
	if err := a.check(r, user, pass); err != nil {
		a.log.Printf("registry: authentication failed for user %q from %s", user, r.RemoteAddr)
		challenge(w, err.Error())
		return
	}
	if info, _ := r.Context().Value(requestInfoKey{}).(*requestInfo); info != nil {
		info.user = user
	}
	a.inner.ServeHTTP(w, r)
}

// check verifies a user's password.
func (a *basicAuth) check(r *http.Request, user, pass string) error {
	wrong := errors.New("wrong user name or password")
	if len(pass) > maxPasswordBytes {
		return wrong
	}
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(pass))
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	a.mu.Lock()
	known := a.good[sum]
	a.mu.Unlock()
	if known {
		return nil
	}

	select {
	case a.sem <- struct{}{}:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	hash, exists := a.users[user]
	if !exists {
		hash = a.decoy
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	<-a.sem
	if err != nil || !exists {
		return wrong
	}
	a.mu.Lock()
	if len(a.good) >= maxRemembered {
		clear(a.good)
	}
	a.good[sum] = true
	a.mu.Unlock()
	return nil
}

// isBase reports whether p is the API's base endpoint.
func isBase(p string) bool { return p == "/v2/" || p == "/v2" }

// secureChannel reports whether credentials on r could not have been read
// on the way: the connection is TLS, or the peer is on loopback.
func secureChannel(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// challenge answers 401 as distribution does.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#error-codes
func challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", msg)
}
