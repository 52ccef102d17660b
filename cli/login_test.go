package cli_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/referee-dev/referee/cli"
	"github.com/referee-dev/referee/internal/testenv"
)

// serveWithUsers runs `referee registry serve` with TLS and an htpasswd
// file until the test ends, and returns its address.
func serveWithUsers(t *testing.T, dir, user, password string) (addr, certFile string) {
	t.Helper()
	certFile, keyFile, _ := testenv.SelfSignedCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "users.htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"referee", "registry", "serve", "--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile, "--htpasswd", htpasswd}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("registry serve exited %d", code)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("registry serve printed no address: %v", err)
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain
	return strings.TrimSpace(line), certFile
}

// TestLoginToARegistryWithUsers: login checks the password and stores it
// in the chosen config; every registry command then uses it.
func TestLoginToARegistryWithUsers(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // never the user's own
	addr, ca := serveWithUsers(t, dir, "alice", "s3cret")
	cfg := filepath.Join(dir, "auth.json")
	login := func(password string, args ...string) (int, string) {
		t.Helper()
		code, _, stderr := refereeStdin(t, password+"\n", append([]string{"login", addr, "-u", "alice", "--password-stdin", "--ca-file", ca, "--registry-config", cfg}, args...)...)
		return code, stderr
	}
	if code, stderr := login("wrong"); code != cli.ExitError || !strings.Contains(stderr, "refused the credentials for alice") {
		t.Fatalf("wrong password: %d %s", code, stderr)
	}
	checkOneLine(t, func() string { _, s := login("wrong"); return s }())
	if _, err := os.Stat(cfg); err == nil {
		t.Fatalf("a refused login wrote %s", cfg)
	}
	if code, stderr := login("s3cret"); code != cli.ExitOK || !strings.Contains(stderr, "logged in to "+addr) {
		t.Fatalf("login: %d %s", code, stderr)
	}
	if st, err := os.Stat(cfg); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config %v %v", st, err)
	}
	// The demo pushes and verifies through the stored credentials; without
	// them the registry refuses.
	code, stdout, stderr := referee(t, "demo", "--registry", addr+"/app", "--ca-file", ca, "--registry-config", cfg)
	if code != cli.ExitOK || !strings.HasPrefix(stdout, addr+"/app@sha256:") {
		t.Fatalf("demo with credentials: %d %q %s", code, stdout, stderr)
	}
	image := strings.TrimSpace(stdout)
	mustCLI(t, "discover", image, "--ca-file", ca, "--registry-config", cfg)
	if code, _, stderr := referee(t, "discover", image, "--ca-file", ca); code != cli.ExitError {
		t.Fatalf("discover without credentials: %d %s", code, stderr)
	}
	mustCLI(t, "logout", addr, "--registry-config", cfg)
	if code, _, stderr := referee(t, "logout", addr, "--registry-config", cfg); code != cli.ExitError || !strings.Contains(stderr, "not logged in") {
		t.Fatalf("second logout: %d %s", code, stderr)
	}
}
