//go:build integration

package integration_test

// Helpers for the registry tests (registry_*_test.go): real registries
// (Debian's docker-registry, CNCF distribution 2.8 without the referrers API,
// and referee's embedded registry with it), images pushed by crane, and a
// small supply chain whose evidence both referee and the Python reference
// verify.

import (
	"archive/tar"
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Artifact and media types the registry tests check.
const (
	ociManifest      = "application/vnd.oci.image.manifest.v1+json"
	ociIndex         = "application/vnd.oci.image.index.v1+json"
	ociConfig        = "application/vnd.oci.image.config.v1+json"
	inTotoJSON       = "application/vnd.in-toto+json" // what oras attach is given
	layoutMetablock  = "application/vnd.referee.in-toto.layout.v1.metablock+json"
	linkMetablock    = "application/vnd.referee.in-toto.link.v1.metablock+json"
	linkDSSE         = "application/vnd.referee.in-toto.link.v1.dsse+json"
	registryDeadline = 15 * time.Second
)

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// reg is a running registry.
type reg struct {
	kind    string // "docker-registry" or "embedded"
	host    string // 127.0.0.1:PORT
	storage string // docker-registry's storage root (empty for embedded)
}

// tagSchema says whether clients must use the referrers tag schema there.
func (r reg) tagSchema() bool { return r.kind == "docker-registry" }

// onRegistries runs f in a subtest per registry kind (docker-registry,
// then referee's embedded registry), each with a fresh registry. A kind
// whose binary is missing skips its subtest only.
func onRegistries(t *testing.T, f func(t *testing.T, r reg)) {
	t.Helper()
	for _, kind := range []string{"docker-registry", "embedded"} {
		t.Run(kind, func(t *testing.T) {
			f(t, startRegistry(t, kind))
		})
	}
}

func startRegistry(t *testing.T, kind string) reg {
	t.Helper()
	if kind == "docker-registry" {
		host, storage := dockerRegistry(t)
		return reg{kind: kind, host: host, storage: storage}
	}
	return reg{kind: kind, host: startEmbeddedRegistry(t)}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dockerRegistry runs Debian's docker-registry (CNCF distribution 2.8, no
// referrers API) in the foreground on a free loopback port with its storage
// (returned) in a temporary directory and deletes enabled, waits until GET
// /v2/ answers, and kills it when the test ends. It skips the test when
// docker-registry is not installed.
func dockerRegistry(t *testing.T) (host, storage string) {
	t.Helper()
	return dockerRegistryWith(t, dockerOptions{})
}

// dockerOptions configure docker-registry beyond the defaults of
// startDockerRegistry (loopback, plain HTTP, deletes enabled).
type dockerOptions struct {
	htpasswd          string         // htpasswd file (bcrypt): basic auth required
	certFile, keyFile string         // PEM: serve HTTPS
	roots             *x509.CertPool // trusts certFile (to wait for readiness)
}

// dockerRegistryWith is dockerRegistry configured by o.
func dockerRegistryWith(t *testing.T, o dockerOptions) (host, storage string) {
	t.Helper()
	bin := tool(t, "docker-registry")
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken meanwhile
		host := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := filepath.Join(dir, fmt.Sprintf("config-%d.yml", attempt))
		storage := filepath.Join(dir, fmt.Sprintf("storage-%d", attempt))
		var extra, httpExtra string
		if o.htpasswd != "" {
			extra = fmt.Sprintf("auth:\n  htpasswd:\n    realm: referee-test\n    path: %s\n", yq(o.htpasswd))
		}
		if o.certFile != "" {
			httpExtra = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", yq(o.certFile), yq(o.keyFile))
		}
		writeFile(t, cfg, fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
%shttp:
  addr: %s
%s`, yq(storage), extra, host, httpExtra))
		logPath := filepath.Join(dir, fmt.Sprintf("registry-%d.log", attempt))
		ready := readiness{url: "http://" + host + "/v2/", client: &http.Client{Timeout: time.Second}, status: http.StatusOK}
		if o.certFile != "" {
			ready.url = "https://" + host + "/v2/"
			ready.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: o.roots}}
		}
		if o.htpasswd != "" {
			ready.status = http.StatusUnauthorized
		}
		if lastErr = runUntilReady(t, bin, logPath, ready, "serve", cfg); lastErr == nil {
			return host, storage
		}
	}
	t.Fatalf("docker-registry did not start: %v", lastErr)
	return "", ""
}

// readiness is how runUntilReady knows a registry is up: GET url answers
// status.
type readiness struct {
	url    string
	client *http.Client
	status int
}

// runUntilReady starts a registry process whose output goes to logPath and
// waits for GET ready.url to answer ready.status. On success the process is
// killed in t.Cleanup; on failure it is killed at once and the error
// returned includes its log.
func runUntilReady(t *testing.T, bin, logPath string, ready readiness, args ...string) error {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	fail := func(err error) error {
		stop()
		return fmt.Errorf("%w\n%s log:\n%s", err, filepath.Base(bin), readFile(t, logPath))
	}
	deadline := time.Now().Add(registryDeadline)
	for {
		select {
		case err := <-exited:
			exited <- err // for stop
			return fail(fmt.Errorf("exited before answering: %v", err))
		default:
		}
		if resp, err := ready.client.Get(ready.url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == ready.status {
				t.Cleanup(stop)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("GET %s did not answer %d within %s", ready.url, ready.status, registryDeadline))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startEmbeddedRegistry runs `referee registry serve --addr 127.0.0.1:0`
// (the OCI 1.1 referrers API on), reads the address it prints, and stops
// it when the test ends. Returns host:port.
func startEmbeddedRegistry(t *testing.T, extra ...string) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "referee-registry.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(refereeBin, append([]string{"registry", "serve", "--addr", "127.0.0.1:0"}, extra...)...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() { // keep draining
		}
	}()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	var host string
	select {
	case host = <-lines:
	case <-time.After(registryDeadline):
	}
	host = strings.TrimSpace(host)
	if _, _, err := net.SplitHostPort(host); err != nil {
		stop()
		t.Fatalf("referee registry serve printed %q, not host:port\nlog:\n%s", host, readFile(t, logPath))
	}
	t.Cleanup(stop)
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatalf("GET /v2/ on the embedded registry: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ on the embedded registry: %s", resp.Status)
	}
	return host
}

// crane and oras binaries.
func needCrane(t *testing.T) string { return tool(t, "crane") }
func needOras(t *testing.T) string  { return tool(t, "oras") }

// pushImage pushes a small OCI image (a one-layer tarball with content
// unique to this call) with `crane append --oci-empty-base`, checks that
// what the registry holds is an OCI image manifest with an OCI config and
// layer, and returns the image's tag reference and manifest digest.
func pushImage(t *testing.T, host, repo string) (ref, digest string) {
	t.Helper()
	crane := needCrane(t)
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.tar")
	f, err := os.Create(layer)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	body := []byte(fmt.Sprintf("%s %s %d\n", t.Name(), repo, time.Now().UnixNano()))
	if err := tw.WriteHeader(&tar.Header{Name: "app/hello.txt", Mode: 0o644, Size: int64(len(body)),
		ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ref = host + "/" + repo + ":v1"
	r := must(t, dir, crane, "append", "--oci-empty-base", "-f", layer, "-t", ref, "--insecure")
	// stdout: HOST/REPO@sha256:...
	out := strings.TrimSpace(r.stdout)
	i := strings.LastIndex(out, "@")
	if i < 0 || !digestRE.MatchString(out[i+1:]) {
		t.Fatalf("crane append printed no digest:\n%s", r)
	}
	digest = out[i+1:]
	var m struct {
		MediaType string
		Config    struct{ MediaType string }
		Layers    []struct{ MediaType string }
	}
	mr := must(t, "", crane, "manifest", "--insecure", ref)
	if err := json.Unmarshal([]byte(mr.stdout), &m); err != nil {
		t.Fatalf("crane manifest: %v\n%s", err, mr)
	}
	if m.MediaType != ociManifest || m.Config.MediaType != ociConfig || len(m.Layers) != 1 ||
		!strings.HasPrefix(m.Layers[0].MediaType, "application/vnd.oci.image.layer.v1.tar") {
		t.Fatalf("%s is not an OCI image:\n%s", ref, mr.stdout)
	}
	if d := strings.TrimSpace(must(t, "", crane, "digest", "--insecure", ref).stdout); d != digest {
		t.Fatalf("crane digest %s = %s, crane append said %s", ref, d, digest)
	}
	return ref, digest
}

// atDigest turns HOST/REPO:TAG into HOST/REPO@DIGEST.
func atDigest(ref, digest string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref + "@" + digest
}

// fallbackTag is the referrers tag schema's tag for a digest.
func fallbackTag(digest string) string { return strings.Replace(digest, ":", "-", 1) }

// referrer is one entry of a referrer listing (referee's or oras's JSON).
type referrer struct {
	Digest       string            `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
	Problem      string            `json:"problem"`
	Referrers    []referrer        `json:"referrers"`
}

type discovery struct {
	Reference string     `json:"reference"`
	Digest    string     `json:"digest"`
	Referrers []referrer `json:"referrers"`
}

// refereeDiscover runs `referee discover IMAGE --format json [extra...]`.
func refereeDiscover(t *testing.T, image string, extra ...string) discovery {
	t.Helper()
	r := must(t, "", refereeBin, append([]string{"discover", image, "--format", "json"}, extra...)...)
	var d discovery
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("referee discover --format json: %v\n%s", err, r)
	}
	return d
}

// orasDiscover runs `oras discover --plain-http --format json IMAGE [extra...]`.
func orasDiscover(t *testing.T, image string, extra ...string) discovery {
	t.Helper()
	args := append([]string{"discover", "--plain-http", "--format", "json"}, extra...)
	r := must(t, "", needOras(t), append(args, image)...)
	var d discovery
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("oras discover --format json: %v\n%s", err, r)
	}
	return d
}

// types maps each referrer's digest to its artifact type, failing on
// duplicates and on referrers with a problem.
func types(t *testing.T, who string, rs []referrer) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, r := range rs {
		if _, dup := m[r.Digest]; dup {
			t.Errorf("%s lists %s twice", who, r.Digest)
		}
		if r.Problem != "" {
			t.Errorf("%s: %s has a problem: %s", who, r.Digest, r.Problem)
		}
		m[r.Digest] = r.ArtifactType
	}
	return m
}

// expectTypes compares digest → artifactType maps.
func expectTypes(t *testing.T, who string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d referrers, want %d:\n got  %v\n want %v", who, len(got), len(want), got, want)
	}
	for d, at := range want {
		if g, ok := got[d]; !ok {
			t.Errorf("%s: referrer %s (%s) missing", who, d, at)
		} else if g != at {
			t.Errorf("%s: referrer %s has artifactType %q, want %q", who, d, g, at)
		}
	}
	for d := range got {
		if _, ok := want[d]; !ok {
			t.Errorf("%s: unexpected referrer %s (%s)", who, d, got[d])
		}
	}
}

// sameDigests checks that a listing has exactly the digests of want
// (whatever artifactType it reports).
func sameDigests(t *testing.T, who string, d discovery, want map[string]string) {
	t.Helper()
	got := types(t, who, d.Referrers)
	for dg := range want {
		if _, ok := got[dg]; !ok {
			t.Errorf("%s does not list %s", who, dg)
		}
	}
	for dg := range got {
		if _, ok := want[dg]; !ok {
			t.Errorf("%s lists unexpected %s", who, dg)
		}
	}
}

// digestLines parses stdout that must be exactly n digests, one a line.
func digestLines(t *testing.T, r result, n int) []string {
	t.Helper()
	lines := strings.Fields(r.stdout)
	if len(lines) != n {
		t.Fatalf("want %d digests on stdout, got %d:\n%s", n, len(lines), r)
	}
	for _, l := range lines {
		if !digestRE.MatchString(l) {
			t.Fatalf("%q is not a digest:\n%s", l, r)
		}
	}
	return lines
}

// orasAttach attaches file (a path relative to dir, so that its title is
// the bare file name) with `oras attach --artifact-type application/vnd.in-toto+json`
// and returns the new referrer's digest.
func orasAttach(t *testing.T, dir, image, file string) string {
	t.Helper()
	r := must(t, dir, needOras(t), "attach", "--plain-http", "--artifact-type", inTotoJSON, "--format", "json", image, file)
	var out struct{ Digest string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !digestRE.MatchString(out.Digest) {
		t.Fatalf("oras attach --format json printed no digest (%v):\n%s", err, r)
	}
	return out.Digest
}

// fallbackIndex reads the referrers tag schema's index of digest with
// crane; ok is false when the tag does not exist.
func fallbackIndex(t *testing.T, host, repo, digest string) (entries []referrer, ok bool) {
	t.Helper()
	r := exe(t, "", needCrane(t), "manifest", "--insecure", host+"/"+repo+":"+fallbackTag(digest))
	if r.code != 0 {
		return nil, false
	}
	var idx struct {
		MediaType string     `json:"mediaType"`
		Manifests []referrer `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &idx); err != nil {
		t.Fatalf("fallback tag: %v\n%s", err, r)
	}
	if idx.MediaType != ociIndex {
		t.Errorf("fallback tag holds %q, want an OCI index", idx.MediaType)
	}
	return idx.Manifests, true
}

// chain is a two-step supply chain whose evidence in-toto-verify and
// referee verify both accept:
//
//   - root.layout: Metablock, signed by an RSA key from `referee keygen`
//     (in-toto-verify reads PEM layout keys only as RSA);
//   - write-code.KEYID8.link: `referee run --metablock`, ed25519 key from
//     `referee keygen` (alice);
//   - build.KEYID8.link: in-toto-run (the Python reference), RSA key from
//     in-toto-keygen (bob).
type chain struct {
	dir       string // holds keys/, work/, links/, root.layout
	ownerPub  string
	layout    string
	links     string // directory with both links
	writeLink string // file name in links
	buildLink string // file name in links
	key       func(name string) string
	p         peers
}

var chainCommands = map[string][]string{
	"write-code": {"sh", "-c", "mkdir -p src && echo 'print(1)' > src/foo.py"},
	"build":      {"tar", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", "foo.tar.gz", "src"},
}

// makeChain builds the chain in a temporary directory and checks that
// in-toto-verify and referee verify accept it from disk. It skips without
// the Python reference.
func makeChain(t *testing.T) chain {
	t.Helper()
	p := needPython(t)
	c := chain{dir: t.TempDir(), p: p}
	keys, work := filepath.Join(c.dir, "keys"), filepath.Join(c.dir, "work")
	c.links = filepath.Join(c.dir, "links")
	mkdirs(t, keys, work, c.links)
	c.key = func(n string) string { return filepath.Join(keys, n) }
	for _, k := range []struct{ name, typ string }{{"owner", "rsa"}, {"alice", "ed25519"}} {
		if r := referee(t, c.dir, "keygen", "--type", k.typ, c.key(k.name)); r.code != 0 {
			t.Fatalf("referee keygen:\n%s", r)
		}
	}
	must(t, keys, p.keygen, "-b", "2048", "bob")
	c.ownerPub = c.key("owner.pub")
	spec := specYAML{
		Functionaries: map[string]string{"alice": "keys/alice.pub", "bob": "keys/bob.pub"},
		Steps: []specStep{
			{Name: "write-code", Command: shellJoin(chainCommands["write-code"]), Functionaries: []string{"alice"},
				Products: []string{"CREATE src/foo.py", "DISALLOW *"}},
			{Name: "build", Command: shellJoin(chainCommands["build"]), Functionaries: []string{"bob"},
				Materials: []string{"MATCH src/* WITH PRODUCTS FROM write-code", "DISALLOW *"},
				Products:  []string{"CREATE foo.tar.gz", "ALLOW src/*", "DISALLOW *"}},
		},
	}
	c.layout = filepath.Join(c.dir, "root.layout")
	createLayout(t, c.dir, "layout", spec, c.layout, true, c.key("owner"))

	r := referee(t, work, append([]string{"run", "--step-name", "write-code", "--key", c.key("alice"),
		"--out", c.links, "--metablock", "--products", "src", "--"}, chainCommands["write-code"]...)...)
	if r.code != 0 {
		t.Fatalf("referee run:\n%s", r)
	}
	c.writeLink = filepath.Base(strings.TrimSpace(r.stdout))
	must(t, work, p.run, append([]string{"-n", "build", "-k", c.key("bob"), "-d", c.links,
		"-m", "src", "-p", "src", "foo.tar.gz", "--"}, chainCommands["build"]...)...)
	for _, l := range linkFiles(t, c.links) {
		if b := filepath.Base(l); strings.HasPrefix(b, "build.") {
			c.buildLink = b
		}
	}
	if c.buildLink == "" || !strings.HasPrefix(c.writeLink, "write-code.") {
		t.Fatalf("links: %q %q", c.writeLink, c.buildLink)
	}
	// The chain is valid before it goes anywhere near a registry.
	expectExit(t, c.pyVerify(t, c.links), 0)
	expectExit(t, c.refVerify(t, c.links), 0)
	return c
}

// layoutIn is the layout that goes with a link directory: the original
// for c.links, else the root.layout pulled into dir.
func (c chain) layoutIn(dir string) string {
	if dir == c.links {
		return c.layout
	}
	return filepath.Join(dir, "root.layout")
}

// pyVerify runs in-toto-verify on the links of dir.
func (c chain) pyVerify(t *testing.T, dir string) result {
	t.Helper()
	return exe(t, c.dir, c.p.verify, "-l", c.layoutIn(dir), "-k", c.ownerPub, "--link-dir", dir)
}

// refVerify runs referee verify on the links of dir.
func (c chain) refVerify(t *testing.T, dir string) result {
	t.Helper()
	return referee(t, c.dir, "verify", "--layout", c.layoutIn(dir), "--layout-key", c.ownerPub, "--link-dir", dir)
}

func (c chain) link(name string) string { return filepath.Join(c.links, name) }

// pullInto runs `referee pull IMAGE --out DIR` and checks that it printed
// the paths of exactly the files want (base names), which it wrote, each
// equal byte for byte to the local original of the same name in orig.
func pullInto(t *testing.T, image, dir string, orig map[string]string) {
	t.Helper()
	r := must(t, "", refereeBin, "pull", image, "--out", dir)
	var printed []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		printed = append(printed, filepath.Base(strings.TrimSpace(l)))
	}
	var want []string
	for n := range orig {
		want = append(want, n)
	}
	sort.Strings(printed)
	sort.Strings(want)
	if strings.Join(printed, " ") != strings.Join(want, " ") {
		t.Errorf("referee pull printed %v, want %v\n%s", printed, want, r)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("referee pull wrote %v, want %v", names, want)
	}
	for n, src := range orig {
		if got, want := readFile(t, filepath.Join(dir, n)), readFile(t, src); got != want {
			t.Errorf("pulled %s differs from the attached file %s", n, src)
		}
	}
}

// parallel runs f(i) for i in [0,n) concurrently and waits.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	wg.Wait()
}
