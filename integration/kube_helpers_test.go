//go:build integration

package integration_test

// Helpers for the admission tests (kube_*_test.go): a real kube-apiserver
// (built from the Go module proxy by integration/kube/build.sh and cached)
// on Debian's etcd, both on free loopback ports, one pair per test, with no
// controller-manager, scheduler or kubelet: what these tests check is
// admission, which the apiserver does alone.
//
// # Registering a webhook served by the test
//
// A ValidatingWebhookConfiguration can point the apiserver at a handler the
// test process serves on loopback:
//
//  1. Serve the handler over HTTPS with serveWebhook, which returns its base
//     URL (https://127.0.0.1:PORT), the PEM of the certificate it serves
//     (from testenv.SelfSignedCert: a CA valid for 127.0.0.1 and localhost)
//     and a stop function (for "webhook down").
//  2. Apply a configuration with kube.apply: clientConfig.url is the base URL
//     plus a path ("https://127.0.0.1:PORT/verify"; no query and no fragment,
//     the apiserver refuses them) and clientConfig.caBundle the base64 of
//     that PEM (caBundle is bytes in the API, hence base64 in YAML and JSON;
//     webhookYAML does both). The apiserver POSTs an AdmissionReview v1 to
//     url + "?timeout=Ns", N being timeoutSeconds (default 10): the webhook
//     should answer within it (the apiserver cuts it off with "context
//     deadline exceeded", then applies failurePolicy).
//  3. Wait for it: the apiserver's webhook informer picks up a new
//     configuration asynchronously (within a second or so), so the first
//     request after kubectl apply may not reach the webhook. kube.waitWebhook
//     repeats a server-side dry-run (which calls webhooks declaring
//     sideEffects: None) until the handler has seen a request.
//
// The rules of a configuration name the resources: pods does not cover
// pods/ephemeralcontainers (kubectl debug), nor deployments in apps; a
// namespaceSelector on the label kubernetes.io/metadata.name (which the
// apiserver sets on every namespace) keeps the webhook to the test's
// namespaces. TestKubeWebhookDenies does all of this.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/referee-dev/referee/internal/testenv"
)

// kubeVersion is the kube-apiserver integration/kube/build.sh builds.
const kubeVersion = "v1.37.2"

// kubeDeadline bounds each daemon's start (the apiserver is ready in about
// 2.5 s on an idle machine; other tests may be compiling alongside).
const kubeDeadline = 60 * time.Second

// kube is a running kube-apiserver with its own etcd, both stopped when the
// test ends.
type kube struct {
	url        string       // https://127.0.0.1:PORT
	caFile     string       // PEM of the CA that signed the serving certificate
	ca         []byte       // the same PEM
	token      string       // bearer token of a system:masters user
	kubeconfig string       // for kubectl: that server, CA and token
	client     *http.Client // trusts ca and sends token
	ready      time.Duration
}

// kubeOptions configure startKube.
type kubeOptions struct {
	args []string // extra kube-apiserver flags, e.g. --disable-admission-plugins=ServiceAccount
}

// kubeApiserverBin is the cached binary built by integration/kube/build.sh.
func kubeApiserverBin(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("REFEREE_KUBE_CACHE")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("kube-apiserver %s: no cache directory: %v", kubeVersion, err)
		}
		dir = filepath.Join(home, ".cache", "referee", "kube")
	}
	bin := filepath.Join(dir, "kube-apiserver-"+kubeVersion)
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		t.Skipf("kube-apiserver %s not built at %s (run: bash integration/kube/build.sh)", kubeVersion, bin)
	}
	return bin
}

// startKube starts etcd and kube-apiserver on free loopback ports (token
// authentication, RBAC, service-account keys, TLS from a test CA), waits for
// /readyz, and stops both when the test ends. It skips the test when etcd
// (Debian's etcd-server) or the cached kube-apiserver is missing.
func startKube(t *testing.T, o kubeOptions) *kube {
	t.Helper()
	etcdBin := tool(t, "etcd")
	apiserverBin := kubeApiserverBin(t)
	tool(t, "kubectl")
	dir := t.TempDir()
	etcdURL := startEtcd(t, etcdBin, dir)

	certFile, keyFile, roots := testenv.SelfSignedCert(t, dir)
	saKey, saPub := writeECKey(t, filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub"))
	token := randomHex(t, 16)
	tokens := filepath.Join(dir, "tokens.csv")
	writeFile(t, tokens, token+`,referee-admin,referee-admin,"system:masters"`+"\n")
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: bearer{token: token, next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken meanwhile
		port := freePort(t)
		url := fmt.Sprintf("https://127.0.0.1:%d", port)
		args := append([]string{
			"--etcd-servers=" + etcdURL,
			fmt.Sprintf("--secure-port=%d", port),
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--endpoint-reconciler-type=none",
			"--cert-dir=" + filepath.Join(dir, "certs"),
			"--tls-cert-file=" + certFile,
			"--tls-private-key-file=" + keyFile,
			"--client-ca-file=" + certFile,
			"--token-auth-file=" + tokens,
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file=" + saPub,
			"--service-account-signing-key-file=" + saKey,
			"--service-cluster-ip-range=10.96.0.0/24",
		}, o.args...)
		logPath := filepath.Join(dir, fmt.Sprintf("kube-apiserver-%d.log", attempt))
		start := time.Now()
		_, lastErr = startProcess(t, logPath, func() bool {
			resp, err := client.Get(url + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, apiserverBin, args...)
		if lastErr == nil {
			k := &kube{url: url, caFile: certFile, ca: []byte(readFile(t, certFile)), token: token, client: client, ready: time.Since(start)}
			k.kubeconfig = filepath.Join(dir, "kubeconfig")
			writeFile(t, k.kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: referee-test
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: referee-admin
  user:
    token: %s
contexts:
- name: referee-test
  context:
    cluster: referee-test
    user: referee-admin
current-context: referee-test
`, url, yq(certFile), token))
			t.Logf("kube-apiserver %s ready in %s at %s", kubeVersion, k.ready.Round(time.Millisecond), url)
			return k
		}
	}
	t.Fatalf("kube-apiserver did not start: %v", lastErr)
	return nil
}

// startEtcd runs Debian's etcd on free loopback ports with its data in dir
// and returns its client URL.
func startEtcd(t *testing.T, bin, dir string) string {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		logPath := filepath.Join(dir, fmt.Sprintf("etcd-%d.log", attempt))
		hc := &http.Client{Timeout: time.Second}
		_, lastErr = startProcess(t, logPath, func() bool {
			resp, err := hc.Get(client + "/health")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, bin,
			"--name=referee-test",
			"--data-dir="+filepath.Join(dir, fmt.Sprintf("etcd-%d", attempt)),
			"--listen-client-urls="+client, "--advertise-client-urls="+client,
			"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
			"--initial-cluster=referee-test="+peer,
			"--log-level=warn", "--logger=zap")
		if lastErr == nil {
			return client
		}
	}
	t.Fatalf("etcd did not start: %v", lastErr)
	return ""
}

// startProcess runs bin with its output in logPath, waits until ready, and
// returns a function that kills it (called at the test's end too). On a
// failure to get ready the process is killed and the error has the log.
func startProcess(t *testing.T, logPath string, ready func() bool, bin string, args ...string) (func(), error) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(kubeDeadline)
	for !ready() {
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited before it was ready; log:\n%s", filepath.Base(bin), readFile(t, logPath))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%s not ready within %s; log:\n%s", filepath.Base(bin), kubeDeadline, readFile(t, logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(stop)
	return stop, nil
}

// kubectl runs kubectl against k with stdin (may be empty).
func (k *kube) kubectl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return exeIO(t, runIO{stdin: stdin, env: []string{"KUBECONFIG=" + k.kubeconfig}}, "kubectl", args...)
}

// mustKubectl is kubectl that has to succeed.
func (k *kube) mustKubectl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := k.kubectl(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("kubectl failed:\n%s", r)
	}
	return r
}

// apply is kubectl apply -f - of manifest.
func (k *kube) apply(t *testing.T, manifest string) {
	t.Helper()
	k.mustKubectl(t, manifest, "apply", "-f", "-")
}

// namespace creates namespace ns with its default ServiceAccount (which the
// ServiceAccount admission plugin requires of every Pod, and which no
// controller-manager creates here).
func (k *kube) namespace(t *testing.T, ns string) {
	t.Helper()
	k.apply(t, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\n  namespace: %s\n", ns, ns))
}

// waitWebhook repeats `kubectl create --dry-run=server` of a probe Pod in ns
// until seen reports that the webhook got a request (the apiserver loads a
// new webhook configuration asynchronously).
func (k *kube) waitWebhook(t *testing.T, ns string, seen func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !seen() {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook got no request from the apiserver within 30s")
		}
		k.kubectl(t, podYAML(ns, "webhook-probe", "registry.example/probe:1"), "create", "--dry-run=server", "-f", "-")
		time.Sleep(100 * time.Millisecond)
	}
}

// webhookDenied begins kubectl's message for a workload referee's webhook
// refused.
const webhookDenied = `admission webhook "verify.referee.dev" denied the request: referee: `

// wantRefused fails unless kubectl's r was refused by referee's webhook
// with a message holding each of want, and logs it.
func wantRefused(t *testing.T, what string, r result, want ...string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("%s: admitted, want refused\n%s", what, r)
		return
	}
	for _, w := range append([]string{webhookDenied}, want...) {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: refused without %q\n%s", what, w, r)
		}
	}
	t.Logf("%s: %s", what, strings.TrimSpace(r.stderr))
}

// podYAML is a one-container Pod.
func podYAML(ns, name, image string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
spec:
  containers:
  - name: app
    image: %s
`, name, ns, image)
}

// serveWebhook serves h over HTTPS on a free loopback port until the test
// ends or stop is called, and returns its base URL and the PEM of its
// (self-signed CA) certificate, the caBundle of a webhook configuration.
func serveWebhook(t *testing.T, h http.Handler) (url string, caPEM []byte, stop func()) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, _ := testenv.SelfSignedCert(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	stop = func() { _ = srv.Close() }
	t.Cleanup(stop)
	return "https://" + l.Addr().String(), []byte(readFile(t, certFile)), stop
}

// webhookYAML is a ValidatingWebhookConfiguration named name calling url
// (trusting caPEM) for CREATE and UPDATE of resources (e.g. "pods",
// "pods/ephemeralcontainers") in group "" v1, in the namespaces listed,
// failing closed.
func webhookYAML(name, url string, caPEM []byte, resources, namespaces []string) string {
	return fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: %s
webhooks:
- name: %s.referee.test
  clientConfig:
    url: %s
    caBundle: %s
  rules:
  - operations: ["CREATE", "UPDATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: [%s]
  namespaceSelector:
    matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: In
      values: [%s]
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: ["v1"]
  timeoutSeconds: 5
`, name, name, yq(url), base64.StdEncoding.EncodeToString(caPEM), quoteList(resources), quoteList(namespaces))
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = yq(s)
	}
	return strings.Join(q, ", ")
}

// bearer adds a bearer token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// writeECKey writes a new P-256 key (PKCS#8 PEM) to keyPath and its public
// key (PKIX PEM) to pubPath: the apiserver's service-account signing and
// verification keys.
func writeECKey(t *testing.T, keyPath, pubPath string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	return keyPath, pubPath
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
