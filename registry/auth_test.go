package registry_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/memory"
	orasremote "oras.land/oras-go/v2/registry/remote"
	orasauth "oras.land/oras-go/v2/registry/remote/auth"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/registry"
)

const (
	alicePassword = "s3cret-alice"
	bobPassword   = "s3cret-bob"
)

// authFiles writes a certificate and key for 127.0.0.1 and an htpasswd
// file (alice with a $2y$ hash as htpasswd -B writes it, bob with $2a$).
type authFiles struct {
	cert, key, htpasswd string
	pool                *x509.CertPool
}

func writeAuthFiles(t *testing.T) authFiles {
	t.Helper()
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "referee test registry"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	f := authFiles{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), htpasswd: filepath.Join(dir, "htpasswd")}
	write(t, f.cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, f.key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	cert, _ := x509.ParseCertificate(der)
	f.pool = x509.NewCertPool()
	f.pool.AddCert(cert)
	write(t, f.htpasswd, "# users\n\nalice:"+strings.Replace(hash(t, alicePassword), "$2a$", "$2y$", 1)+"\n  bob:"+hash(t, bobPassword)+"  \n")
	return f
}

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsRegistry is a registry served by Serve with TLS and authentication on
// a real listener.
type tlsRegistry struct {
	host   string
	client *http.Client // trusts the test certificate
	logs   *testenv.SyncBuffer
}

func (r tlsRegistry) transport() http.RoundTripper { return r.client.Transport }

// serveTLS serves a registry with opts completed by the files in f, on
// addr, until the test ends.
func serveTLS(t *testing.T, f authFiles, addr string, opts registry.Options) tlsRegistry {
	t.Helper()
	logs := &testenv.SyncBuffer{}
	opts.TLSCertFile, opts.TLSKeyFile, opts.HtpasswdFile = f.cert, f.key, f.htpasswd
	opts.Logger = log.New(logs, "", 0)
	reg, err := registry.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, addr, func(a net.Addr) { addrc <- a }) }()
	var bound net.Addr
	select {
	case bound = <-addrc:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		reg.Close()
	})
	_, port, _ := net.SplitHostPort(bound.String())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.pool}}
	t.Cleanup(tr.CloseIdleConnections)
	return tlsRegistry{host: "127.0.0.1:" + port, client: &http.Client{Transport: tr}, logs: logs}
}

// TestAuthEveryRequest: every endpoint asks for credentials; only GET and
// HEAD (not /v2/) pass without them, and only with AnonymousPull; wrong,
// unknown and non-Basic credentials are refused everywhere.
func TestAuthEveryRequest(t *testing.T) {
	f := writeAuthFiles(t)
	for _, anon := range []bool{false, true} {
		reg := serveTLS(t, f, "127.0.0.1:0", registry.Options{Root: t.TempDir(), AnonymousPull: anon})
		// Something to read.
		img, _ := random.Image(64, 1)
		tag := mustTag(t, reg.host+"/demo/app:v1")
		if err := remote.Write(tag, img, remote.WithTransport(reg.transport()), remote.WithAuth(&authn.Basic{Username: "alice", Password: alicePassword})); err != nil {
			t.Fatalf("push as alice: %v", err)
		}
		dig, _ := img.Digest()
		requests := []struct{ method, path string }{
			{http.MethodGet, "/v2/"},
			{http.MethodGet, "/v2/demo/app/manifests/v1"},
			{http.MethodHead, "/v2/demo/app/manifests/v1"},
			{http.MethodGet, "/v2/demo/app/tags/list"},
			{http.MethodGet, "/v2/demo/app/referrers/" + dig.String()},
			{http.MethodGet, "/v2/_catalog"},
			{http.MethodPost, "/v2/demo/app/blobs/uploads/"},
			{http.MethodPut, "/v2/demo/app/manifests/v2"},
			{http.MethodDelete, "/v2/demo/app/manifests/v1"},
		}
		creds := []struct {
			name  string
			set   func(*http.Request)
			valid bool
		}{
			{"no credentials", func(*http.Request) {}, false},
			{"wrong password", func(r *http.Request) { r.SetBasicAuth("alice", bobPassword) }, false},
			{"empty password", func(r *http.Request) { r.SetBasicAuth("alice", "") }, false},
			{"password with a suffix", func(r *http.Request) { r.SetBasicAuth("alice", alicePassword+"x") }, false},
			{"password beyond 72 bytes", func(r *http.Request) { r.SetBasicAuth("alice", alicePassword+strings.Repeat("x", 72)) }, false},
			{"unknown user", func(r *http.Request) { r.SetBasicAuth("mallory", alicePassword) }, false},
			{"user name in another case", func(r *http.Request) { r.SetBasicAuth("Alice", alicePassword) }, false},
			{"bearer token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+alicePassword) }, false},
			{"malformed basic", func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, false},
			{"bob", func(r *http.Request) { r.SetBasicAuth("bob", bobPassword) }, true},
		}
		for _, c := range creds {
			for _, rq := range requests {
				read := rq.method == http.MethodGet || rq.method == http.MethodHead
				anonymousOK := anon && read && rq.path != "/v2/" && c.name == "no credentials"
				t.Run(strings.Join([]string{map[bool]string{true: "anonymous pull", false: "closed"}[anon], c.name, rq.method, rq.path}, " "), func(t *testing.T) {
					var body io.Reader
					if rq.method == http.MethodPut {
						body = strings.NewReader(`{"schemaVersion":2}`)
					}
					req, _ := http.NewRequest(rq.method, "https://"+reg.host+rq.path, body)
					c.set(req)
					resp, err := reg.client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if c.valid || anonymousOK {
						if resp.StatusCode == http.StatusUnauthorized {
							t.Errorf("refused: %s %s", resp.Status, b)
						}
						return
					}
					wantChallenge(t, resp, b)
				})
			}
		}
		if strings.Contains(reg.logs.String(), alicePassword) || strings.Contains(reg.logs.String(), bobPassword) {
			t.Errorf("a password is in the log:\n%s", reg.logs)
		}
		for _, want := range []string{`authentication failed for user "mallory"`, `(user "bob")`} {
			if !strings.Contains(reg.logs.String(), want) {
				t.Errorf("log does not say %s:\n%s", want, reg.logs)
			}
		}
	}
}

// wantChallenge checks a distribution-style 401.
func wantChallenge(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("answered %s, want 401", resp.Status)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="referee"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	if resp.Request.Method == http.MethodHead {
		return
	}
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Code != "UNAUTHORIZED" {
		t.Errorf("body %s, want one UNAUTHORIZED error", body)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// TestAuthClients: real clients (go-containerregistry's, oras-go's) push
// with the right password and are refused without one or with a wrong
// one; anonymous pulls work only when asked for, anonymous pushes never.
func TestAuthClients(t *testing.T) {
	f := writeAuthFiles(t)
	alice := &authn.Basic{Username: "alice", Password: alicePassword}
	for _, anon := range []bool{false, true} {
		reg := serveTLS(t, f, "127.0.0.1:0", registry.Options{AnonymousPull: anon})
		tr := remote.WithTransport(reg.transport())
		img, _ := random.Image(128, 2)
		tag := mustTag(t, reg.host+"/demo/app:v1")

		for _, who := range []struct {
			name string
			auth authn.Authenticator
		}{
			{"anonymous", authn.Anonymous},
			{"wrong password", &authn.Basic{Username: "alice", Password: bobPassword}},
		} {
			err := remote.Write(tag, img, tr, remote.WithAuth(who.auth))
			if !isUnauthorized(err) {
				t.Errorf("anonymous pull %v: push as %s: %v, want 401", anon, who.name, err)
			}
		}
		if err := remote.Write(tag, img, tr, remote.WithAuth(alice)); err != nil {
			t.Fatalf("push as alice: %v", err)
		}
		// Anonymous delete is a write too.
		if err := remote.Delete(tag, tr); !isUnauthorized(err) {
			t.Errorf("anonymous pull %v: anonymous delete: %v, want 401", anon, err)
		}

		want, _ := img.Digest()
		got, err := remote.Image(tag, tr)
		switch {
		case anon && err != nil:
			t.Errorf("anonymous pull: %v", err)
		case anon:
			checkBlobs(t, got)
			if d, _ := got.Digest(); d != want {
				t.Errorf("pulled %s, want %s", d, want)
			}
		case !isUnauthorized(err):
			t.Errorf("anonymous pull without AnonymousPull: %v, want 401", err)
		}
		if got, err := remote.Image(tag, tr, remote.WithAuth(alice)); err != nil {
			t.Errorf("pull as alice: %v", err)
		} else {
			checkBlobs(t, got)
		}

		// oras-go: a copy into the registry as bob, refused without
		// credentials.
		for _, c := range []struct {
			name string
			cred orasauth.Credential
			ok   bool
		}{
			{"none", orasauth.EmptyCredential, false},
			{"wrong", orasauth.Credential{Username: "bob", Password: alicePassword}, false},
			{"bob", orasauth.Credential{Username: "bob", Password: bobPassword}, true},
		} {
			repo, err := orasremote.NewRepository(reg.host + "/oras/app")
			if err != nil {
				t.Fatal(err)
			}
			repo.Client = &orasauth.Client{Client: reg.client, Credential: orasauth.StaticCredential(reg.host, c.cred)}
			src := memory.New()
			desc, err := oras.PackManifest(context.Background(), src, oras.PackManifestVersion1_1, "application/vnd.referee.test", oras.PackManifestOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Tag(context.Background(), desc, "v1"); err != nil {
				t.Fatal(err)
			}
			_, err = oras.Copy(context.Background(), src, "v1", repo, "v1", oras.DefaultCopyOptions)
			if c.ok != (err == nil) {
				t.Errorf("anonymous pull %v: oras push with credential %s: %v", anon, c.name, err)
			}
		}
	}
}

func isUnauthorized(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized
}

// TestPlainHTTPRefused is this design's answer to "a replayed token":
// there are no tokens, only Basic credentials, which anyone who reads them
// can replay until the password changes; so they must never travel in
// clear. A TLS registry answers plain HTTP with 400 and stores nothing
// (the credentials are not even read), and the handler itself refuses
// credentials on a plain connection from a peer that is not loopback
// (mounted on a server of one's own without TLS).
func TestPlainHTTPRefused(t *testing.T) {
	f := writeAuthFiles(t)
	reg := serveTLS(t, f, "127.0.0.1:0", registry.Options{})
	body := `{"schemaVersion":2}`
	req, _ := http.NewRequest(http.MethodPut, "http://"+reg.host+"/v2/demo/app/manifests/v1", strings.NewReader(body))
	req.SetBasicAuth("alice", alicePassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP PUT to the TLS registry: %s, want 400", resp.Status)
	}
	get, _ := http.NewRequest(http.MethodGet, "https://"+reg.host+"/v2/demo/app/manifests/v1", nil)
	get.SetBasicAuth("alice", alicePassword)
	if resp, err := reg.client.Do(get); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("after the plain PUT, GET v1: %v %v, want 404", resp.Status, err)
	}

	h, err := registry.New(registry.Options{HtpasswdFile: f.htpasswd})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, tc := range []struct {
		peer string
		want int
	}{
		{"203.0.113.7:40000", http.StatusUnauthorized},
		{"[2001:db8::1]:40000", http.StatusUnauthorized},
		{"127.0.0.1:40000", http.StatusOK},
		{"[::1]:40000", http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
		req.RemoteAddr = tc.peer
		req.SetBasicAuth("alice", alicePassword)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("credentials in clear from %s: %d, want %d", tc.peer, rec.Code, tc.want)
		}
	}
}

// TestServeRefusesRemote: beyond loopback, Serve needs TLS and an htpasswd
// file and names what is missing.
func TestServeRefusesRemote(t *testing.T) {
	f := writeAuthFiles(t)
	for _, tc := range []struct {
		name    string
		opts    registry.Options
		missing []string
		present []string
	}{
		{"neither", registry.Options{}, []string{"TLS", "htpasswd"}, nil},
		{"TLS only", registry.Options{TLSCertFile: f.cert, TLSKeyFile: f.key}, []string{"htpasswd"}, []string{"TLS"}},
		{"htpasswd only", registry.Options{HtpasswdFile: f.htpasswd}, []string{"TLS"}, []string{"htpasswd"}},
		{"htpasswd and anonymous pulls", registry.Options{HtpasswdFile: f.htpasswd, AnonymousPull: true}, []string{"TLS"}, []string{"htpasswd"}},
	} {
		for _, addr := range []string{"0.0.0.0:0", ":0"} {
			t.Run(tc.name+" "+addr, func(t *testing.T) {
				reg, err := registry.New(tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				defer reg.Close()
				for _, serve := range []func() error{
					func() error { return reg.Serve(context.Background(), addr, nil) },
					func() error { return registry.Serve(context.Background(), addr, reg, nil) },
				} {
					err := serve()
					if err == nil {
						t.Fatal("served")
					}
					msg := err.Error()
					if !strings.Contains(msg, "not loopback") || !strings.Contains(msg, addr) {
						t.Errorf("error %q does not name the address as not loopback", msg)
					}
					for _, m := range tc.missing {
						if !strings.Contains(msg, m) {
							t.Errorf("error %q does not name %s as missing", msg, m)
						}
					}
					for _, p := range tc.present {
						if strings.Contains(msg, p) {
							t.Errorf("error %q names %s, which is given", msg, p)
						}
					}
				}
			})
		}
	}
	// Any other handler: plain HTTP on loopback only.
	if err := registry.Serve(context.Background(), "0.0.0.0:0", http.NotFoundHandler(), nil); err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("plain handler on 0.0.0.0: %v", err)
	}

	// With both it serves on every interface (reached here over loopback).
	reg := serveTLS(t, f, "0.0.0.0:0", registry.Options{})
	req, _ := http.NewRequest(http.MethodGet, "https://"+reg.host+"/v2/", nil)
	req.SetBasicAuth("alice", alicePassword)
	resp, err := reg.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ as alice: %s", resp.Status)
	}
}

// TestOptionsRefused: files and combinations New refuses, each naming the
// file (and line).
func TestOptionsRefused(t *testing.T) {
	f := writeAuthFiles(t)
	dir := t.TempDir()
	good := hash(t, "pw")
	htp := func(content string) string {
		p := filepath.Join(dir, "htpasswd-"+strings.ReplaceAll(t.Name(), "/", "-")+time.Now().Format("150405.000000000"))
		write(t, p, content)
		return p
	}
	for _, tc := range []struct {
		name string
		opts func() registry.Options
		want string
	}{
		{"certificate without key", func() registry.Options { return registry.Options{TLSCertFile: f.cert} }, "without its key"},
		{"key without certificate", func() registry.Options { return registry.Options{TLSKeyFile: f.key} }, "without a certificate"},
		{"key for another certificate", func() registry.Options {
			other := writeAuthFiles(t)
			return registry.Options{TLSCertFile: f.cert, TLSKeyFile: other.key}
		}, f.cert},
		{"certificate file missing", func() registry.Options {
			return registry.Options{TLSCertFile: filepath.Join(dir, "none.pem"), TLSKeyFile: f.key}
		}, "none.pem"},
		{"anonymous pulls without htpasswd", func() registry.Options { return registry.Options{AnonymousPull: true} }, "without an htpasswd file"},
		{"htpasswd missing", func() registry.Options { return registry.Options{HtpasswdFile: filepath.Join(dir, "none")} }, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := registry.New(tc.opts()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error saying %q", err, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty", "", "names no user"},
		{"comments only", "# alice:" + good + "\n", "names no user"},
		{"no colon", "alice " + good + "\n", ":1: not a user:hash line"},
		{"empty user", ":" + good + "\n", ":1: empty user name"},
		{"user twice", "alice:" + good + "\nbob:" + good + "\nalice:" + good + "\n", `:3: user "alice" is named twice`},
		{"plain password", "alice:pw\n", `:1: user "alice": only bcrypt hashes`},
		{"apr1 (MD5)", "alice:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n", "only bcrypt"},
		{"SHA1", "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "only bcrypt"},
		{"crypt", "alice:rqXexS6ZhobKA\n", "only bcrypt"},
		{"truncated bcrypt", "alice:" + good[:20] + "\n", "not a valid bcrypt hash"},
		{"bcrypt cost out of range", "alice:$2y$99$" + good[7:] + "\n", "not a valid bcrypt hash"},
		{"bad line after good ones", "bob:" + good + "\n\nalice\n", ":3: not a user:hash line"},
	} {
		t.Run("htpasswd "+tc.name, func(t *testing.T) {
			p := htp(tc.content)
			_, err := registry.New(registry.Options{HtpasswdFile: p})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("New: %v, want an error naming %s and saying %q", err, p, tc.want)
			}
			if strings.Contains(err.Error(), good) {
				t.Errorf("the error shows a hash: %v", err)
			}
		})
	}
}
