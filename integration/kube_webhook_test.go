//go:build integration

package integration_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/internal/testenv"
)

// TestKubeAdmission runs referee's admission webhook end to end (issue 12,
// "Done when"): `referee registry serve` and `referee webhook serve` as
// processes, two supply chains recorded by `referee demo` into the
// registry, a ValidatingWebhookConfiguration as docs would have it, and a
// real kube-apiserver that asks the webhook about every workload kubectl
// sends it. What it proves, in order:
//
//   - an image by tag is refused under requireDigest, saying why;
//   - a Pod of the verified image by digest is admitted;
//   - a Pod and a Deployment of the image with replayed evidence are
//     refused at kubectl create/apply, naming the image and step "push";
//     so is a ReplicaSet, StatefulSet, DaemonSet, Job and CronJob with it
//     as an init container (each admitted with the verified image alone);
//   - an image no policy covers is refused (unmatched: deny), and admitted
//     in the namespace the policy excludes;
//   - kubectl debug (pods/ephemeralcontainers) with the bad image is refused;
//   - a server-side dry run of a good Pod is admitted and creates nothing;
//   - with the registry down: an UPDATE that changes no image is admitted
//     with no verification; the verified digest, out of its TTL, is
//     admitted under staleIfError with a warning; a digest never verified is
//     refused;
//   - with the webhook down, a Pod is refused (failurePolicy: Fail).
func TestKubeAdmission(t *testing.T) {
	t.Parallel()
	start := time.Now()
	k := startKube(t, kubeOptions{})
	dir := t.TempDir()

	// The registry, and two supply chains in it: shop/app (its evidence
	// replayed onto a second image by the demo) and other/app.
	regStop, host := startRefereeRegistry(t, dir)
	shopRepo, otherRepo := host+"/shop/app", host+"/other/app"
	good := demo(t, filepath.Join(dir, "shop"), shopRepo)
	bad := shopRepo + "@" + manifestDigest(t, host, "shop/app", "evil")
	// The demo's image is its build's tar, whose mtimes are in seconds:
	// in the next second, the other chain's image has a digest of its own.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	otherGood := demo(t, filepath.Join(dir, "other"), otherRepo)
	if digestOf(otherGood) == digestOf(good) {
		t.Fatalf("both demos pushed %s", digestOf(good))
	}
	t.Logf("verified %s, replayed evidence on %s, not yet checked %s", good, bad, otherGood)

	// The policy: shop by digest only, verified by the demo's owner key,
	// admitted for a while when its registry is down; other without grace.
	policy := filepath.Join(dir, "policy.yaml")
	writeFile(t, policy, fmt.Sprintf(`policies:
  - name: shop
    images: [%q]
    layoutKeys: [shop/owner.pub]
    requireDigest: true
    staleIfError: 10m
  - name: other
    images: [%q]
    layoutKeys: [other/owner.pub]
unmatched: deny
exclude: {namespaces: [referee-system]}
`, host+"/shop/**", host+"/other/**"))
	if r := referee(t, "", "webhook", "check-config", policy); r.code != 0 {
		t.Fatalf("check-config:\n%s", r)
	}

	// The webhook, with a TTL short enough that the verified digest is out
	// of it by the time the registry goes down.
	wh := startRefereeWebhook(t, dir, policy, "--ttl", "2s")
	k.apply(t, admissionYAML("referee", wh.url+"/verify", wh.ca, []string{"shop", "referee-system"}))
	k.namespace(t, "shop")
	k.namespace(t, "referee-system")
	unmatched := host + "/elsewhere/app@sha256:" + strings.Repeat("ab", 32)
	k.waitDenied(t, podYAML("shop", "probe", unmatched))
	t.Logf("webhook serving after %s", time.Since(start).Round(time.Millisecond))

	admit := func(what string, r result) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: refused, want admitted\n%s", what, r)
		}
	}

	// A tag, under requireDigest.
	wantRefused(t, "Pod by tag", k.kubectl(t, podYAML("shop", "tagged", shopRepo+":demo"), "create", "-f", "-"),
		"image "+shopRepo+":demo", `policy "shop": requires an image by digest (requireDigest), not a tag`)

	// 1. The verified image by digest.
	admit("Pod of the verified image", k.kubectl(t, podYAML("shop", "good", good), "create", "-f", "-"))
	if got := k.mustKubectl(t, "", "get", "pod", "good", "-n", "shop", "-o", "jsonpath={.spec.containers[0].image}").stdout; got != good {
		t.Fatalf("pod shop/good runs %q, want %q", got, good)
	}

	// 2. The replayed evidence, as a Pod and as a Deployment.
	replayed := []string{"image " + bad, `policy "shop"`, `step "push"`}
	wantRefused(t, "Pod of the replayed evidence", k.kubectl(t, podYAML("shop", "bad", bad), "create", "-f", "-"), replayed...)
	wantRefused(t, "Deployment of the replayed evidence", k.kubectl(t, deploymentYAML("shop", "bad", bad), "apply", "-f", "-"),
		append(replayed, "spec.template.spec.containers[0].image")...)
	for _, kind := range []string{"pod", "deployment"} {
		if r := k.kubectl(t, "", "get", kind, "bad", "-n", "shop"); r.code == 0 {
			t.Errorf("the refused %s exists:\n%s", kind, r)
		}
	}
	// Every other kind of the rules: the bad image as an init container
	// next to the good one is refused, the good one alone admitted.
	for _, w := range workloads {
		wantRefused(t, w.kind+" with the bad init container", k.kubectl(t, workloadYAML(w, "shop", "bad", good, bad), "create", "-f", "-"),
			"image "+bad, "container setup", w.spec+".initContainers[0].image", `step "push"`)
		admit(w.kind+" of the verified image", k.kubectl(t, workloadYAML(w, "shop", "good", good, good), "create", "-f", "-"))
	}

	// 3. No policy covers it; the excluded namespace is not checked.
	wantRefused(t, "Pod no policy covers", k.kubectl(t, podYAML("shop", "unmatched", unmatched), "create", "-f", "-"),
		"image "+unmatched, "no policy covers "+host+"/elsewhere/app in namespace shop (unmatched: deny)")
	admit("Pod in the excluded namespace", k.kubectl(t, podYAML("referee-system", "unmatched", unmatched), "create", "-f", "-"))

	// 4. kubectl debug adds an ephemeral container of the bad image.
	wantRefused(t, "kubectl debug with the bad image", k.kubectl(t, "", "debug", "-n", "shop", "good", "--image="+bad, "--container=debugger", "--profile=general"),
		"image "+bad, "container debugger", `step "push"`)
	if got := k.mustKubectl(t, "", "get", "pod", "good", "-n", "shop", "-o", "jsonpath={.spec.ephemeralContainers}").stdout; got != "" {
		t.Errorf("pod shop/good has ephemeral containers %s after a refused kubectl debug", got)
	}

	// 5. A server-side dry run of a good Pod (of the image not checked
	// yet): admitted after a verification, nothing created, and no
	// decision kept (step 7 shows it too).
	before := wh.metrics(t)
	admit("dry run of a good Pod", k.kubectl(t, podYAML("shop", "dry", otherGood), "create", "--dry-run=server", "-f", "-"))
	after := wh.metrics(t)
	if after[allowed] != before[allowed]+1 || after[verifications] != before[verifications]+1 {
		t.Errorf("the dry run was not verified by the webhook: metrics before %v, after %v", before, after)
	}
	if after[entries] != before[entries] {
		t.Errorf("the dry run left a cached decision: %s %v -> %v", entries, before[entries], after[entries])
	}
	if r := k.kubectl(t, "", "get", "pod", "dry", "-n", "shop"); r.code == 0 || !strings.Contains(r.stderr, "NotFound") {
		t.Errorf("the dry run created a Pod:\n%s", r)
	}

	// Registry down from here on.
	regStop()
	time.Sleep(2 * time.Second) // the verified digest's TTL runs out

	// 6. An UPDATE that changes no image: admitted, no verification.
	before = wh.metrics(t)
	admit("label on the admitted Pod", k.kubectl(t, "", "label", "pod", "good", "-n", "shop", "referee.dev/checked=yes"))
	after = wh.metrics(t)
	for _, m := range []string{verifications, misses, hits} {
		if after[m] != before[m] {
			t.Errorf("the unchanged UPDATE decided an image: %s %v -> %v", m, before[m], after[m])
		}
	}
	if after[allowed] != before[allowed]+1 {
		t.Errorf("the unchanged UPDATE was not answered by the webhook: metrics before %v, after %v", before, after)
	}

	// The verified digest out of its TTL: admitted under staleIfError.
	r := k.kubectl(t, podYAML("shop", "stale", good), "create", "-f", "-")
	admit("Pod of the verified image, registry down", r)
	if !strings.Contains(r.stderr, "staleIfError 10m0s") {
		t.Errorf("the stale admission gave no warning:\n%s", r)
	}
	t.Logf("Pod of the verified image, registry down: %s", strings.TrimSpace(r.stderr))
	if m := wh.metrics(t); m["referee_webhook_stale_admissions_total"] != 1 {
		t.Errorf("stale admissions: %v, want 1", m["referee_webhook_stale_admissions_total"])
	}

	// 7. A digest not in the cache (its dry run kept nothing), registry
	// down: refused, after a verification that could not reach it.
	before = wh.metrics(t)
	wantRefused(t, "Pod of an uncached digest, registry down", k.kubectl(t, podYAML("shop", "other", otherGood), "create", "-f", "-"),
		"image "+otherGood, `policy "other"`, "connection refused")
	after = wh.metrics(t)
	if after[misses] != before[misses]+1 || after[verifications] != before[verifications]+1 {
		t.Errorf("the uncached digest was not a cache miss verified: metrics before %v, after %v", before, after)
	}

	// 8. The webhook down: failurePolicy Fail refuses.
	wh.stop()
	r = k.kubectl(t, podYAML("shop", "down", good), "create", "-f", "-")
	if want := `failed calling webhook "verify.referee.dev"`; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("Pod with the webhook down: want refused with %q\n%s", want, r)
	}
	t.Logf("Pod with the webhook down: %s", strings.TrimSpace(r.stderr))
	t.Logf("admission end to end in %s", time.Since(start).Round(time.Millisecond))
}

// Samples of the webhook's /metrics the test reads.
const (
	allowed       = `referee_webhook_requests_total{outcome="allowed"}`
	verifications = "referee_webhook_verifications_total"
	misses        = "referee_webhook_cache_misses_total"
	hits          = "referee_webhook_cache_hits_total"
	entries       = "referee_webhook_cache_entries"
)

func digestOf(ref string) string { return ref[strings.LastIndexByte(ref, '@')+1:] }

// demo runs `referee demo` against repo keeping its keys in dir and returns
// the verified image's digest reference (its last line on stdout).
func demo(t *testing.T, dir, repo string, flags ...string) string {
	t.Helper()
	r := referee(t, "", append([]string{"demo", "--registry", repo, "--keep", dir}, flags...)...)
	if r.code != 0 {
		t.Fatalf("referee demo:\n%s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	ref := lines[len(lines)-1]
	if !strings.HasPrefix(ref, repo+"@sha256:") {
		t.Fatalf("referee demo printed %q, not a digest reference in %s", ref, repo)
	}
	return ref
}

// manifestDigest is the digest tag names in repo on the plain-HTTP registry
// at host.
func manifestDigest(t *testing.T, host, repo, tag string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, "http://"+host+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", ociManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	d := resp.Header.Get("Docker-Content-Digest")
	if resp.StatusCode != http.StatusOK || !digestRE.MatchString(d) {
		t.Fatalf("HEAD %s:%s: %s, digest %q", repo, tag, resp.Status, d)
	}
	return d
}

// startRefereeRegistry runs `referee registry serve` (in memory) on a free
// loopback port and returns a function that stops it and its host:port.
func startRefereeRegistry(t *testing.T, dir string) (stop func(), host string) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	for attempt := 0; ; attempt++ {
		host = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		stop, err := startProcess(t, filepath.Join(dir, fmt.Sprintf("registry-%d.log", attempt)), func() bool {
			resp, err := hc.Get("http://" + host + "/v2/")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, refereeBin, "registry", "serve", "--addr", host)
		if err == nil {
			return stop, host
		}
		if attempt == 2 {
			t.Fatalf("referee registry serve: %v", err)
		}
	}
}

// refereeWebhook is a running `referee webhook serve`.
type refereeWebhook struct {
	url    string // https://127.0.0.1:PORT
	ca     []byte // PEM of its certificate, the configuration's caBundle
	client *http.Client
	stop   func()
}

// startRefereeWebhook runs `referee webhook serve --policy policy` with a
// self-signed certificate on a free loopback port, extra flags added, and
// waits for /readyz.
func startRefereeWebhook(t *testing.T, dir, policy string, extra ...string) *refereeWebhook {
	t.Helper()
	certFile, keyFile, roots := testenv.SelfSignedCert(t, dir)
	w := &refereeWebhook{ca: []byte(readFile(t, certFile)), client: tlsClient(roots)}
	for attempt := 0; ; attempt++ {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		w.url = "https://" + addr
		stop, err := startProcess(t, filepath.Join(dir, fmt.Sprintf("webhook-%d.log", attempt)), func() bool {
			resp, err := w.client.Get(w.url + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, refereeBin, append([]string{"webhook", "serve", "--policy", policy, "--tls-cert", certFile, "--tls-key", keyFile,
			"--addr", addr, "--plain-http"}, extra...)...)
		if err == nil {
			w.stop = stop
			return w
		}
		if attempt == 2 {
			t.Fatalf("referee webhook serve: %v", err)
		}
	}
}

func tlsClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

// metrics reads the webhook's /metrics: sample name (with its labels, as
// written) to value.
func (w *refereeWebhook) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := w.client.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || !strings.HasPrefix(line, "referee_webhook_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// waitDenied repeats `kubectl create --dry-run=server` of pod until a
// webhook denies it: the apiserver loads a new webhook configuration
// asynchronously.
func (k *kube) waitDenied(t *testing.T, pod string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := k.kubectl(t, pod, "create", "--dry-run=server", "-f", "-")
		if r.code != 0 && strings.Contains(r.stderr, "admission webhook") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no webhook refused the probe within 30s:\n%s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// admissionYAML is the ValidatingWebhookConfiguration issue 12 describes
// (failurePolicy Fail, sideEffects None, v1 reviews, 10 s), named name,
// calling url (trusting caPEM) for CREATE and UPDATE of every workload kind
// and of pods/ephemeralcontainers, in the namespaces listed.
func admissionYAML(name, url string, caPEM []byte, namespaces []string) string {
	return fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: %s
webhooks:
- name: verify.referee.dev
  clientConfig:
    url: %s
    caBundle: %s
  rules:
  - operations: ["CREATE", "UPDATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["pods", "pods/ephemeralcontainers"]
  - operations: ["CREATE", "UPDATE"]
    apiGroups: ["apps"]
    apiVersions: ["v1"]
    resources: ["deployments", "replicasets", "statefulsets", "daemonsets"]
  - operations: ["CREATE", "UPDATE"]
    apiGroups: ["batch"]
    apiVersions: ["v1"]
    resources: ["jobs", "cronjobs"]
  namespaceSelector:
    matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: In
      values: [%s]
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: ["v1"]
  timeoutSeconds: 10
`, name, yq(url), base64.StdEncoding.EncodeToString(caPEM), quoteList(namespaces))
}

// deploymentYAML is a one-container Deployment.
func deploymentYAML(ns, name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: %s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
      containers:
      - name: app
        image: %s
`, name, ns, name, name, image)
}

// workload is a kind of the webhook's rules, other than Pod and
// Deployment, and where its Pod template is.
type workload struct {
	apiVersion, kind string
	spec             string // the PodSpec's field path
	extra            string // spec fields besides the template, indented 2
}

var workloads = []workload{
	{"apps/v1", "ReplicaSet", "spec.template.spec", "  selector: {matchLabels: {app: %[1]s}}\n"},
	{"apps/v1", "StatefulSet", "spec.template.spec", "  serviceName: %[1]s\n  selector: {matchLabels: {app: %[1]s}}\n"},
	{"apps/v1", "DaemonSet", "spec.template.spec", "  selector: {matchLabels: {app: %[1]s}}\n"},
	{"batch/v1", "Job", "spec.template.spec", ""},
	{"batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec", ""},
}

// workloadYAML is a w named name whose Pod template runs image after an
// init container of initImage.
func workloadYAML(w workload, ns, name, image, initImage string) string {
	template := fmt.Sprintf(`template:
  metadata:
    labels: {app: %s}
  spec:
    restartPolicy: %s
    initContainers:
    - name: setup
      image: %s
    containers:
    - name: app
      image: %s
`, name, map[bool]string{true: "Never", false: "Always"}[w.apiVersion == "batch/v1"], initImage, image)
	indent := "  "
	spec := "spec:\n"
	if w.extra != "" {
		spec += fmt.Sprintf(w.extra, name)
	}
	if w.kind == "CronJob" {
		spec += "  schedule: \"@hourly\"\n  jobTemplate:\n    spec:\n"
		indent = "      "
	}
	for _, line := range strings.SplitAfter(strings.TrimSuffix(template, "\n"), "\n") {
		spec += indent + line
	}
	return fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s\n%s\n", w.apiVersion, w.kind, name, ns, spec)
}
