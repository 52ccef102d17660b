package oci_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// basicAuthRegistry starts go-containerregistry's registry behind an HTTP
// Basic auth check for user and password, and returns its host:port.
func basicAuthRegistry(t testing.TB, user, password string) string {
	t.Helper()
	srv := httptest.NewServer(basicAuth(user, password))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// basicAuth is go-containerregistry's registry behind an HTTP Basic auth
// check, answering 401 with a Basic challenge as registries do.
func basicAuth(user, password string) http.Handler {
	reg := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="referee-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	})
}

// Login speaks TLS to a registry whose CA the CA file holds, as Open does.
func TestLoginTLSWithCAFile(t *testing.T) {
	isolateDockerConfig(t)
	srv := httptest.NewUnstartedServer(basicAuth("alice", "s3cret"))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config.json")
	if err := oci.Login(t.Context(), host, "alice", "s3cret", oci.Options{RegistryConfig: file}); err == nil {
		t.Error("logged in over plain HTTP to a TLS registry")
	}
	if err := oci.Login(t.Context(), host, "alice", "s3cret", oci.Options{RegistryConfig: file, CAFile: ca}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := oci.OpenResolved(t.Context(), host+"/app:v1", oci.Options{RegistryConfig: file, CAFile: ca}); err == nil || refused(err) {
		t.Errorf("resolving a missing tag after login: %v, want not found", err)
	}
}

// isolateDockerConfig points docker's default config at an empty
// directory, and hides credential helpers, for the rest of the test.
func isolateDockerConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PATH", "")
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	return dir
}

type dockerConfig struct {
	Auths map[string]struct {
		Auth string `json:"auth"`
	} `json:"auths"`
	CredHelpers map[string]string `json:"credHelpers"`
	PsFormat    string            `json:"psFormat"`
}

func readDockerConfig(t testing.TB, path string) dockerConfig {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg dockerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return cfg
}

// refused reports whether err is the registry asking for credentials the
// client does not have (oras-go stops at the Basic challenge) or refusing
// the ones it sent.
func refused(err error) bool {
	var resp *errcode.ErrorResponse
	return errors.Is(err, auth.ErrBasicCredentialNotFound) || errors.As(err, &resp) && resp.StatusCode == http.StatusUnauthorized
}

const otherEntries = `{
	"auths": {"other.example:5000": {"auth": "b3RoZXI6c2VjcmV0"}},
	"credHelpers": {"helped.example": "none"},
	"psFormat": "table {{.ID}}"
}`

// Login checks the password against the registry, writes docker's format
// to the chosen file (keeping what else is there), and the stores opened
// with that file are let in; Logout takes it away again.
func TestLoginLogoutRegistryConfig(t *testing.T) {
	isolateDockerConfig(t)
	ctx := t.Context()
	host := basicAuthRegistry(t, "alice", "s3cret")
	file := filepath.Join(t.TempDir(), "auth", "config.json")
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(otherEntries), 0o644); err != nil {
		t.Fatal(err)
	}
	withFile := oci.Options{RegistryConfig: file}

	// A wrong password is refused and nothing is written.
	err := oci.Login(ctx, host, "alice", "wrong", withFile)
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if want := "logging in to " + host + ": the registry refused the credentials for alice (401 Unauthorized"; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrong password: %q, want it to start with %q on one line", err, want)
	}
	if data, _ := os.ReadFile(file); string(data) != otherEntries {
		t.Errorf("a refused login changed the file:\n%s", data)
	}

	// Not logged in: the registry refuses pushes.
	ref, _ := oci.ParseReference(host + "/app:v1")
	if _, _, _, err := oci.OpenResolved(ctx, host+"/app:v1", withFile); !refused(err) {
		t.Errorf("before login: %v, want credentials asked for", err)
	}

	if err := oci.Login(ctx, host, "alice", "s3cret", withFile); err != nil {
		t.Fatal(err)
	}
	cfg := readDockerConfig(t, file)
	if got, want := cfg.Auths[host].Auth, base64.StdEncoding.EncodeToString([]byte("alice:s3cret")); got != want {
		t.Errorf("auths[%s].auth = %q, want %q", host, got, want)
	}
	if cfg.Auths["other.example:5000"].Auth != "b3RoZXI6c2VjcmV0" || cfg.CredHelpers["helped.example"] != "none" || cfg.PsFormat != "table {{.ID}}" {
		t.Errorf("other entries lost: %+v", cfg)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode: %v %v, want 0600", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("files beside the config after login: %v", entries)
	}

	// The file lets a push and a resolve in; docker's default does not.
	s, err := oci.Open(ctx, ref, withFile)
	if err != nil {
		t.Fatal(err)
	}
	image := pushImage(t, s, "behind basic auth")
	_, got, _, err := oci.OpenResolved(ctx, host+"/app:v1", withFile)
	if err != nil {
		t.Fatalf("resolving with the registry config: %v", err)
	}
	if got.Digest != image.Digest {
		t.Errorf("resolved %s, pushed %s", got.Digest, image.Digest)
	}
	if _, _, _, err := oci.OpenResolved(ctx, host+"/app:v1", oci.Options{}); !refused(err) {
		t.Errorf("without the registry config: %v, want credentials asked for", err)
	}

	if err := oci.Logout(ctx, host, withFile); err != nil {
		t.Fatal(err)
	}
	cfg = readDockerConfig(t, file)
	if _, ok := cfg.Auths[host]; ok {
		t.Errorf("logout left auths[%s]", host)
	}
	if cfg.Auths["other.example:5000"].Auth == "" || cfg.PsFormat == "" {
		t.Errorf("logout lost other entries: %+v", cfg)
	}
	if _, _, _, err := oci.OpenResolved(ctx, host+"/app:v1", withFile); !refused(err) {
		t.Errorf("after logout: %v, want credentials asked for", err)
	}
	err = oci.Logout(ctx, host, withFile)
	if err == nil || !strings.Contains(err.Error(), "not logged in") || !strings.Contains(err.Error(), file) {
		t.Errorf("second logout: %v, want not logged in, naming %s", err, file)
	}
}

// With no RegistryConfig, Login writes docker's default config and every
// command reads it from there.
func TestLoginDefaultDockerConfig(t *testing.T) {
	dir := isolateDockerConfig(t)
	ctx := t.Context()
	host := basicAuthRegistry(t, "bob", "hunter2")
	if err := oci.Login(ctx, host, "bob", "hunter2", oci.Options{}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config.json")
	if got, want := readDockerConfig(t, file).Auths[host].Auth, base64.StdEncoding.EncodeToString([]byte("bob:hunter2")); got != want {
		t.Errorf("auths[%s].auth = %q, want %q", host, got, want)
	}
	ref, _ := oci.ParseReference(host + "/app:v1")
	s, err := oci.Open(ctx, ref, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pushImage(t, s, "default config")
	if _, _, _, err := oci.OpenResolved(ctx, host+"/app:v1", oci.Options{}); err != nil {
		t.Fatalf("resolving with docker's default config: %v", err)
	}
	if err := oci.Logout(ctx, host, oci.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := oci.OpenResolved(ctx, host+"/app:v1", oci.Options{}); !refused(err) {
		t.Errorf("after logout: %v, want credentials asked for", err)
	}
	if err := oci.Logout(ctx, host, oci.Options{}); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("second logout: %v, want an error naming %s", err, file)
	}
}

// Docker Hub's credentials are under docker's legacy key whatever name
// the hub is given, and keys docker once wrote with a scheme are found
// and removed too.
func TestLogoutKeys(t *testing.T) {
	isolateDockerConfig(t)
	for _, tc := range []struct{ registry, key string }{
		{"docker.io", "https://index.docker.io/v1/"},
		{"index.docker.io", "https://index.docker.io/v1/"},
		{"registry-1.docker.io", "https://index.docker.io/v1/"},
		{"https://index.docker.io/v1/", "https://index.docker.io/v1/"},
		{"myreg.example:5000", "myreg.example:5000"},
		{"myreg.example:5000", "https://myreg.example:5000/"},
		{"myreg.example", "http://myreg.example"},
	} {
		t.Run(tc.registry+"="+tc.key, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "config.json")
			entries := `{"auths":{"` + tc.key + `":{"auth":"dTpw"},"keep.example":{"auth":"dTpw"}}}`
			if err := os.WriteFile(file, []byte(entries), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := oci.Logout(t.Context(), tc.registry, oci.Options{RegistryConfig: file}); err != nil {
				t.Fatal(err)
			}
			cfg := readDockerConfig(t, file)
			if _, ok := cfg.Auths[tc.key]; ok || len(cfg.Auths) != 1 {
				t.Errorf("auths after logout: %v", cfg.Auths)
			}
		})
	}
}

// Broken config files, bad names and unreachable registries are errors
// that say which file or registry.
func TestLoginBadInput(t *testing.T) {
	isolateDockerConfig(t)
	ctx := t.Context()
	host := basicAuthRegistry(t, "alice", "s3cret")
	dir := t.TempDir()
	written := map[string]string{}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		written[p] = content
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notJSON := write("notjson.json", "auths = yes\n")
	array := write("array.json", `[]`)
	badAuths := write("badauths.json", `{"auths": "alice"}`)
	missing := filepath.Join(dir, "missing.json")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	login := func(reg, user, pass, file string) func() error {
		return func() error { return oci.Login(ctx, reg, user, pass, oci.Options{RegistryConfig: file}) }
	}
	logout := func(reg, file string) func() error {
		return func() error { return oci.Logout(ctx, reg, oci.Options{RegistryConfig: file}) }
	}
	resolve := func(file string) func() error {
		return func() error {
			_, _, _, err := oci.OpenResolved(ctx, host+"/app:v1", oci.Options{RegistryConfig: file})
			return err
		}
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want []string
	}{
		{"login, config not JSON", login(host, "alice", "s3cret", notJSON), []string{notJSON, "is not JSON"}},
		{"logout, config not JSON", logout(host, notJSON), []string{notJSON, "is not JSON"}},
		{"resolve, config not JSON", resolve(notJSON), []string{notJSON, "is not JSON"}},
		{"login, config an array", login(host, "alice", "s3cret", array), []string{array, "JSON array"}},
		{"resolve, auths a string", resolve(badAuths), []string{badAuths, `"auths"`}},
		{"resolve, config missing", resolve(missing), []string{missing, "no such file"}},
		{"logout, config missing", logout(host, missing), []string{missing, "not logged in"}},
		{"login, no registry", login("", "alice", "s3cret", missing), []string{"no registry"}},
		{"login, bad registry", login("exa mple", "alice", "s3cret", missing), []string{"exa mple"}},
		{"login, no user", login(host, "", "s3cret", missing), []string{host, "no user name"}},
		{"login, no password", login(host, "alice", "", missing), []string{host, "no password"}},
		{"login, colon in user", login(host, "al:ice", "s3cret", missing), []string{host, "':'"}},
		{"login, unreachable", login(closed, "alice", "s3cret", missing), []string{"logging in to " + closed, "cannot reach the registry"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%q is more than one line", err)
			}
			t.Log(err)
		})
	}
	for p, want := range written {
		if data, _ := os.ReadFile(p); string(data) != want {
			t.Errorf("%s changed: %s", p, data)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a failed login created %s", missing)
	}
}

// A registry that takes the connection and then says nothing, or sends
// its headers a line at a time, is given up on after Options.Timeout,
// and the error names it.
func TestSilentRegistryTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name  string
		serve func(c net.Conn, done <-chan struct{})
	}{
		{"never answers", func(c net.Conn, done <-chan struct{}) { <-done }},
		{"slow headers", func(c net.Conn, done <-chan struct{}) {
			// Answer only once asked: bytes before a request are a
			// broken connection to net/http, not a slow one.
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			testenv.DripHeaderLines(c, 200*time.Millisecond, done)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := testenv.TCPServer(t, tc.serve)
			for _, op := range []struct {
				name string
				run  func() error
			}{
				{"resolve", func() error {
					_, _, _, err := oci.OpenResolved(t.Context(), addr+"/app:v1", oci.Options{Timeout: timeout})
					return err
				}},
				{"login", func() error {
					return oci.Login(t.Context(), addr, "alice", "s3cret", oci.Options{Timeout: timeout, RegistryConfig: filepath.Join(t.TempDir(), "c.json")})
				}},
			} {
				start := time.Now()
				err := op.run()
				elapsed := time.Since(start)
				if err == nil {
					t.Fatalf("%s: no error", op.name)
				}
				if !strings.Contains(err.Error(), addr) {
					t.Errorf("%s: %q does not name %s", op.name, err, addr)
				}
				if elapsed < timeout || elapsed > 2*time.Second {
					t.Errorf("%s: gave up after %v, want about %v", op.name, elapsed, timeout)
				}
				t.Logf("%s: %v after %v", op.name, err, elapsed.Round(time.Millisecond))
			}
		})
	}
}
