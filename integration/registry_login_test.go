//go:build integration

package integration_test

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/internal/testenv"
)

// TestRegistryLogin: docker-registry 2.8 with htpasswd basic auth, over
// plain HTTP (distribution 2.8 accepts basic auth without TLS; referee uses
// plain HTTP on loopback) and over HTTPS with a certificate the test makes
// (referee --ca-file). `referee login --registry-config F` with a wrong
// password exits 2 and writes nothing; with the right one it writes F, which
// `referee attach --registry-config F`, docker's default config
// (DOCKER_CONFIG), crane and oras all use; without credentials attach fails
// naming the registry; `referee logout` removes them again.
func TestRegistryLogin(t *testing.T) {
	crane := needCrane(t)
	oras := needOras(t)
	for _, useTLS := range []bool{false, true} {
		name := "plain HTTP"
		if useTLS {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			// testdata/registry/htpasswd: alice's bcrypt hash (cost 4: the
			// registry checks it on every request), made by apache2-utils'
			// htpasswd -bnBC 4 alice 'correct horse battery staple'.
			const user, password = "alice", "correct horse battery staple"
			htpasswd := filepath.Join(filepath.Dir(confDir), "registry", "htpasswd")
			o := dockerOptions{htpasswd: htpasswd}
			var tlsArgs, orasTLS, craneEnv []string
			if useTLS {
				var ca string
				o.certFile, o.keyFile, ca, o.roots = selfSignedCert(t, dir)
				tlsArgs = []string{"--ca-file", ca}
				orasTLS = []string{"--ca-file", ca}
				craneEnv = []string{"SSL_CERT_FILE=" + ca}
			} else {
				orasTLS = []string{"--plain-http"}
			}
			host, _ := dockerRegistryWith(t, o)

			// No credentials from this machine's docker config count.
			empty := t.TempDir()
			t.Setenv("DOCKER_CONFIG", empty)
			cfgDir := filepath.Join(dir, "docker")
			cfg := filepath.Join(cfgDir, "config.json")
			// ref runs referee CMD [TLS flags] ARGS... with stdin and env.
			ref := func(stdin string, env []string, cmd string, args ...string) result {
				t.Helper()
				a := append(append([]string{cmd}, tlsArgs...), args...)
				return exeIO(t, runIO{stdin: stdin, env: env}, refereeBin, a...)
			}
			login := func(stdin string, args ...string) result {
				t.Helper()
				return ref(stdin, nil, "login", append([]string{host, "--registry-config", cfg}, args...)...)
			}

			// Bad input: nothing is checked against the registry, nothing written.
			for _, tc := range []struct {
				name, stdin string
				args        []string
				want        string
			}{
				{"no --username", password + "\n", []string{"--password-stdin"}, "username"},
				{"no --password-stdin", password + "\n", []string{"-u", user}, "--password-stdin"},
				{"empty stdin", "", []string{"-u", user, "--password-stdin"}, "no password"},
			} {
				r := login(tc.stdin, tc.args...)
				expectExit(t, r, 2)
				if !strings.Contains(r.stderr, tc.want) {
					t.Errorf("%s: stderr does not mention %q:\n%s", tc.name, tc.want, r)
				}
			}
			r := login("wrong password\n", "-u", user, "--password-stdin")
			expectExit(t, r, 2)
			if !strings.Contains(r.stderr, "refused") || !strings.Contains(r.stderr, user) || !strings.Contains(r.stderr, host) {
				t.Errorf("a wrong password does not say the registry refused %s's credentials:\n%s", user, r)
			}
			if _, err := os.Stat(cfgDir); !os.IsNotExist(err) {
				t.Fatalf("a refused login wrote %s (%v)", cfgDir, err)
			}

			if useTLS { // the certificate is trusted only through --ca-file
				r := exeIO(t, runIO{stdin: password + "\n"}, refereeBin, "login", host, "--registry-config", cfg, "-u", user, "--password-stdin")
				expectExit(t, r, 2)
				if _, err := os.Stat(cfgDir); !os.IsNotExist(err) {
					t.Fatalf("a failed login wrote %s (%v)", cfgDir, err)
				}
			}
			r = login(password+"\n", "-u", user, "--password-stdin")
			expectExit(t, r, 0)
			if r.stdout != "" {
				t.Errorf("login printed on stdout:\n%s", r)
			}
			st, err := os.Stat(cfg)
			if err != nil {
				t.Fatalf("login wrote no %s: %v", cfg, err)
			}
			if st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %v: others can read the password", cfg, st.Mode().Perm())
			}
			if auths := configAuths(t, cfg); !auths[host] {
				t.Fatalf("%s has no credentials for %s:\n%s", cfg, host, readFile(t, cfg))
			}

			// crane reads the same file as docker's config (it pushes the
			// image through the helper) and fails without it.
			craneOK := append([]string{"DOCKER_CONFIG=" + cfgDir}, craneEnv...)
			craneNone := append([]string{"DOCKER_CONFIG=" + empty}, craneEnv...)
			if r := exeIO(t, runIO{env: craneNone}, crane, "catalog", host); r.code == 0 {
				t.Fatalf("the registry lets crane in without credentials:\n%s", r)
			}
			t.Setenv("DOCKER_CONFIG", cfgDir)
			imageTag, digest := pushImage(t, host, "login/app")
			t.Setenv("DOCKER_CONFIG", empty)
			image := atDigest(imageTag, digest)
			links := signedLinks(t, 2)

			r = ref("", nil, "attach", image, links[0])
			expectExit(t, r, 2)
			t.Logf("attach without credentials: %s", strings.TrimSpace(r.stderr))
			if !strings.Contains(r.stderr, host) || !strings.Contains(strings.ToLower(r.stderr), "credential") {
				t.Errorf("attach without credentials does not say %s needs credentials:\n%s", host, r)
			}
			r = ref("", nil, "attach", image, links[0], "--registry-config", cfg)
			expectExit(t, r, 0)
			d0 := digestLines(t, r, 1)[0]
			// docker's default config, as DOCKER_CONFIG names it.
			r = ref("", []string{"DOCKER_CONFIG=" + cfgDir}, "attach", image, links[1])
			expectExit(t, r, 0)
			d1 := digestLines(t, r, 1)[0]

			both := map[string]string{d0: "", d1: ""}
			r = ref("", nil, "discover", image, "--format", "json", "--registry-config", cfg)
			expectExit(t, r, 0)
			var d discovery
			if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
				t.Fatalf("discover --format json: %v\n%s", err, r)
			}
			sameDigests(t, "referee discover --registry-config", d, both)
			or := must(t, "", oras, append(append([]string{"discover", "--format", "json", "--registry-config", cfg}, orasTLS...), image)...)
			var od discovery
			if err := json.Unmarshal([]byte(or.stdout), &od); err != nil {
				t.Fatalf("oras discover --format json: %v\n%s", err, or)
			}
			sameDigests(t, "oras discover --registry-config", od, both)
			// crane verifies the registry's certificate here (no --insecure).
			if r := exeIO(t, runIO{env: craneOK}, crane, "manifest", atDigest(imageTag, d0)); r.code != 0 {
				t.Errorf("crane with DOCKER_CONFIG=%s cannot read what referee attached:\n%s", cfgDir, r)
			}

			r = ref("", nil, "logout", host, "--registry-config", cfg)
			expectExit(t, r, 0)
			if configAuths(t, cfg)[host] {
				t.Errorf("logout left credentials for %s:\n%s", host, readFile(t, cfg))
			}
			r = ref("", nil, "discover", image, "--registry-config", cfg)
			expectExit(t, r, 2)
			if r := exeIO(t, runIO{env: craneOK}, crane, "manifest", image); r.code == 0 {
				t.Errorf("crane still gets in after referee logout:\n%s", r)
			}
			r = ref("", nil, "logout", host, "--registry-config", cfg)
			expectExit(t, r, 2)
			if !strings.Contains(r.stderr, "not logged in") {
				t.Errorf("a second logout does not say it was not logged in:\n%s", r)
			}
		})
	}
}

// configAuths lists the registries a docker config.json has credentials for.
func configAuths(t *testing.T, path string) map[string]bool {
	t.Helper()
	var c struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal([]byte(readFile(t, path)), &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m := map[string]bool{}
	for h, a := range c.Auths {
		m[h] = a.Auth != ""
	}
	return m
}

func selfSignedCert(t *testing.T, dir string) (certFile, keyFile, caFile string, roots *x509.CertPool) {
	t.Helper()
	certFile, keyFile, roots = testenv.SelfSignedCert(t, dir)
	return certFile, keyFile, certFile, roots
}
