package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/referee-dev/referee/registry"
)

const artifactType = "application/vnd.referee.test+json"

// server is a registry served on loopback by httptest.
type server struct {
	*httptest.Server
	reg *registry.Registry
}

// Close stops serving and closes the registry, releasing its root.
func (s *server) Close() {
	s.Server.Close()
	s.reg.Close()
}

// start serves a registry on root (empty: in memory) for the test's life.
func start(t *testing.T, opts registry.Options) *server {
	t.Helper()
	h, err := registry.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return serveReg(t, h)
}

// serveReg serves h until the test ends or the server is closed.
func serveReg(t *testing.T, h *registry.Registry) *server {
	srv := &server{httptest.NewServer(h), h}
	t.Cleanup(srv.Close)
	return srv
}

func repoOf(t *testing.T, srv *server, repo string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pushed is what pushImageAndReferrer stored.
type pushed struct {
	repo     string
	image    v1.Hash
	referrer v1.Hash
}

// pushImageAndReferrer pushes a random image as repo:v1 and, with a plain
// HTTP PUT by digest, an artifact manifest whose subject is that image.
func pushImageAndReferrer(t *testing.T, srv *server, repo string) pushed {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repoOf(t, srv, repo).Tag("v1"), img); err != nil {
		t.Fatalf("push image: %v", err)
	}
	desc, err := partialDescriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	art := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), artifactType)
	art = mutate.Annotations(art, map[string]string{"org.example.kind": "evidence"}).(v1.Image)
	// Subject last: mutate.Annotations drops a subject set before it.
	art = mutate.Subject(art, desc).(v1.Image)
	// The config blob must exist before the manifest that names it.
	if err := remote.Write(repoOf(t, srv, repo).Tag("tmp"), art); err != nil {
		t.Fatalf("push referrer: %v", err)
	}
	raw, err := art.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	dig, err := art.Digest()
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, http.MethodPut, srv.URL+"/v2/"+repo+"/manifests/"+dig.String(), string(types.OCIManifestSchema1), raw)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT referrer: %s", resp.Status)
	}
	// Leave only the digest reference (and the fallback tag remote.Write
	// may have made).
	if resp := do(t, http.MethodDelete, srv.URL+"/v2/"+repo+"/manifests/tmp", "", nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE tmp: %s", resp.Status)
	}
	return pushed{repo: repo, image: desc.Digest, referrer: dig}
}

func partialDescriptor(img v1.Image) (v1.Descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	dig, err := img.Digest()
	return v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: dig}, err
}

func do(t *testing.T, method, url, contentType string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// referrers lists the referrers of subject with the plain HTTP API.
func referrers(t *testing.T, srv *server, repo string, subject v1.Hash) (int, *v1.IndexManifest) {
	t.Helper()
	resp := do(t, http.MethodGet, srv.URL+"/v2/"+repo+"/referrers/"+subject.String(), "", nil)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var idx v1.IndexManifest
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
		t.Fatalf("referrers: %v", err)
	}
	return resp.StatusCode, &idx
}

// checkServed verifies everything pushImageAndReferrer stored is served.
func checkServed(t *testing.T, srv *server, p pushed) {
	t.Helper()
	repo := repoOf(t, srv, p.repo)
	img, err := remote.Image(repo.Tag("v1"))
	if err != nil {
		t.Fatalf("pull v1: %v", err)
	}
	if d, _ := img.Digest(); d != p.image {
		t.Errorf("v1 is %s, want %s", d, p.image)
	}
	checkBlobs(t, img)
	if _, err := remote.Get(repo.Digest(p.referrer.String())); err != nil {
		t.Errorf("get referrer by digest: %v", err)
	}
	code, idx := referrers(t, srv, p.repo, p.image)
	if code != http.StatusOK {
		t.Fatalf("referrers: %d", code)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != p.referrer {
		t.Fatalf("referrers = %+v, want only %s", idx.Manifests, p.referrer)
	}
	if got := idx.Manifests[0].ArtifactType; got != artifactType {
		t.Errorf("artifactType = %q, want %q", got, artifactType)
	}
	if got := idx.Manifests[0].Annotations["org.example.kind"]; got != "evidence" {
		t.Errorf("annotations = %v", idx.Manifests[0].Annotations)
	}
	// go-containerregistry's own client finds it too.
	ridx, err := remote.Referrers(repo.Digest(p.image.String()))
	if err != nil {
		t.Fatalf("remote.Referrers: %v", err)
	}
	if m, _ := ridx.IndexManifest(); len(m.Manifests) != 1 {
		t.Errorf("remote.Referrers = %+v", m.Manifests)
	}
}

func TestServedInMemoryAndAfterRestart(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		root string
	}{
		{"in memory", ""},
		{"on disk", root},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, registry.Options{Root: tc.root})
			p := pushImageAndReferrer(t, srv, "demo/app")
			checkServed(t, srv, p)
		})
	}

	// Push to one registry on root, then restart it twice.
	srv := start(t, registry.Options{Root: filepath.Join(root, "r")})
	p := pushImageAndReferrer(t, srv, "demo/app")
	if resp := do(t, http.MethodPut, srv.URL+"/v2/demo/app/manifests/gone", string(types.OCIManifestSchema1), mustRaw(t, p, srv)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT gone: %s", resp.Status)
	}
	if resp := do(t, http.MethodDelete, srv.URL+"/v2/demo/app/manifests/gone", "", nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE gone: %s", resp.Status)
	}
	srv.Close()
	for i := range 2 {
		srv := start(t, registry.Options{Root: filepath.Join(root, "r")})
		checkServed(t, srv, p)
		if resp := do(t, http.MethodGet, srv.URL+"/v2/demo/app/manifests/gone", "", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("restart %d: deleted tag answers %s", i+1, resp.Status)
		}
		srv.Close()
	}
}

// checkBlobs reads the config and every layer blob and checks their digests.
func checkBlobs(t *testing.T, img v1.Image) {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatalf("config blob: %v", err)
	}
	want, _ := img.ConfigName()
	if got, _, _ := v1.SHA256(bytes.NewReader(cfg)); got != want {
		t.Errorf("config blob has digest %s, want %s", got, want)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		want, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("layer %s: %v", want, err)
		}
		got, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || got != want {
			t.Errorf("layer blob %s: digest %s, %v", want, got, err)
		}
	}
}

// mustRaw fetches the referrer manifest's bytes.
func mustRaw(t *testing.T, p pushed, srv *server) []byte {
	t.Helper()
	resp := do(t, http.MethodGet, srv.URL+"/v2/"+p.repo+"/manifests/"+p.referrer.String(), "", nil)
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestReferrersEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name        string
		noReferrers bool
		want        int
	}{
		{"supported", false, http.StatusOK},
		{"turned off", true, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := start(t, registry.Options{Root: t.TempDir(), NoReferrers: tc.noReferrers})
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(repoOf(t, srv, "x").Tag("v1"), img); err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			if code, _ := referrers(t, srv, "x", d); code != tc.want {
				t.Errorf("GET referrers = %d, want %d", code, tc.want)
			}
		})
	}
}

func TestManifestWritesChecked(t *testing.T) {
	for _, root := range []string{"", t.TempDir()} {
		t.Run("root="+root, func(t *testing.T) { testManifestWritesChecked(t, root) })
	}
}

func testManifestWritesChecked(t *testing.T, root string) {
	srv := start(t, registry.Options{Root: root})
	small := []byte(`{"schemaVersion":2}`)
	for _, tc := range []struct {
		name string
		ref  string
		body []byte
		want int
	}{
		{"too large", "big", bytes.Repeat([]byte(" "), registry.MaxManifestSize+1), http.StatusRequestEntityTooLarge},
		{"digest mismatch", "sha256:" + strings.Repeat("0", 64), small, http.StatusBadRequest},
		{"by tag", "t", small, http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, http.MethodPut, srv.URL+"/v2/x/manifests/"+tc.ref, string(types.OCIManifestSchema1), tc.body)
			if resp.StatusCode != tc.want {
				t.Errorf("PUT = %s, want %d", resp.Status, tc.want)
			}
		})
	}
}

func TestJournalDamage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(lines []string) []string
		wantErr string // empty: New succeeds and v1 is served
		warn    string
		again   string // the warning a second restart repeats (lines skipped as harmless stay)
	}{
		{
			name:   "truncated last line",
			damage: func(l []string) []string { return append(l, `{"method":"PUT","repo":"demo/a`) },
			warn:   "incomplete last line",
		},
		{
			name:   "garbage last line",
			damage: func(l []string) []string { return append(l, "\x00\x00\x00\n") },
			warn:   "corrupt manifest journal line",
		},
		{
			name: "corrupt middle line",
			damage: func(l []string) []string {
				return append([]string{l[0], "{not json\n"}, l[1:]...)
			},
			wantErr: "manifests.jsonl:2: corrupt manifest journal line",
		},
		{
			// Two registries on one root, before roots were locked: each
			// deleted the same tag.
			name:   "DELETE twice",
			damage: func(l []string) []string { return append(l, l[3]) },
			warn:   "manifests.jsonl:5: skipped DELETE demo/app:tmp: already absent",
			again:  "skipped DELETE demo/app:tmp",
		},
		{
			name: "DELETE of a digest never stored",
			damage: func(l []string) []string {
				return append([]string{l[0], `{"method":"DELETE","repo":"demo/app","reference":"sha256:` + strings.Repeat("0", 64) + `"}` + "\n"}, l[1:]...)
			},
			warn:  "manifests.jsonl:2: skipped DELETE demo/app@sha256:0000",
			again: "skipped DELETE",
		},
		{
			name: "DELETE in a repository never stored",
			damage: func(l []string) []string {
				return append(l, `{"method":"DELETE","repo":"other","reference":"v1"}`+"\n")
			},
			warn:  "skipped DELETE other:v1: already absent",
			again: "skipped DELETE other:v1",
		},
		{
			name:   "PUT twice",
			damage: func(l []string) []string { return append(l, l[0], l[2]) },
		},
		{
			name:   "truncated last line after a stale DELETE",
			damage: func(l []string) []string { return append(l, l[3], `{"method":"PUT","repo":"demo/a`) },
			warn:   "incomplete last line",
			again:  "skipped DELETE demo/app:tmp",
		},
		{
			name: "garbage before a stale DELETE",
			damage: func(l []string) []string {
				return append(l, "\x00\x00\x00\n", l[3])
			},
			wantErr: "manifests.jsonl:5: corrupt manifest journal line",
		},
		{
			name: "valid JSON, wrong shape",
			damage: func(l []string) []string {
				return append([]string{l[0], `{"method":"PUT","repo":"demo/app","reference":"x"}` + "\n"}, l[1:]...)
			},
			wantErr: "manifests.jsonl:2: corrupt manifest journal line: PUT without a body",
		},
		{
			name: "unknown method",
			damage: func(l []string) []string {
				return append([]string{`{"method":"PATCH","repo":"a","reference":"b"}` + "\n"}, l...)
			},
			wantErr: "manifests.jsonl:1:",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			srv := start(t, registry.Options{Root: root})
			p := pushImageAndReferrer(t, srv, "demo/app")
			srv.Close()

			journal := filepath.Join(root, "manifests.jsonl")
			b, err := os.ReadFile(journal)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(b), "\n")
			lines = lines[:len(lines)-1] // the empty string after the last newline
			if err := os.WriteFile(journal, []byte(strings.Join(tc.damage(lines), "")), 0o644); err != nil {
				t.Fatal(err)
			}

			var logs bytes.Buffer
			h, err := registry.New(registry.Options{Root: root, Logger: log.New(&logs, "", 0)})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), journal) {
					t.Fatalf("New: %v, want an error naming %s and containing %q", err, journal, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if !strings.Contains(logs.String(), tc.warn) {
				t.Errorf("log %q does not warn %q", logs.String(), tc.warn)
			}
			srv = serveReg(t, h)
			checkServed(t, srv, p)
			// The torn line was cut off: a new write and a restart are clean.
			if resp := do(t, http.MethodDelete, srv.URL+"/v2/demo/app/manifests/v1", "", nil); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("DELETE v1: %s", resp.Status)
			}
			srv.Close()
			logs.Reset()
			srv = start(t, registry.Options{Root: root, Logger: log.New(&logs, "", 0)})
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if strings.Contains(l, "warning") && (tc.again == "" || !strings.Contains(l, tc.again)) {
					t.Errorf("second restart warned: %q", l)
				}
			}
			if tc.again != "" && !strings.Contains(logs.String(), "skipped 1 harmless") {
				t.Errorf("second restart log %q does not count the skipped line", logs.String())
			}
			if resp := do(t, http.MethodGet, srv.URL+"/v2/demo/app/manifests/v1", "", nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("deleted v1 answers %s", resp.Status)
			}
		})
	}
}

func TestServe(t *testing.T) {
	h, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- registry.Serve(ctx, "127.0.0.1:0", h, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	resp, err := http.Get("http://" + addr.String() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ = %s", resp.Status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + addr.String() + "/v2/"); err == nil {
		t.Error("still serving after cancel")
	}

	// A busy address is an error, not a hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := registry.Serve(context.Background(), ln.Addr().String(), h, nil); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("Serve on a busy address: %v", err)
	}
}
