package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// report is the motivating chain's scan report.
var report = []byte(`{"vulnerabilities":[{"id":"CVE-2026-0001","severity":"LOW"}]}` + "\n")

// TestArtifactRoundTrip attaches a scan report as an artifact referrer
// next to a link, on every kind of store: the manifest is as
// docs/format.md describes it (layer digest = the file's sha256, titled
// with the path), discover shows it, gathering takes no document from it,
// an ArtifactSet (from the verification's graph or from the listing)
// gives it back by path and sha256 only, and pull writes it back beside
// the evidence.
func TestArtifactRoundTrip(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, newStore(t, kind))
			image := pushImage(t, s, "app")
			sc := newSupplyChain(t, attest.FormDSSE)
			if _, err := oci.Attach(ctx, s, image, sc.links["build"], oci.AttachOptions{}); err != nil {
				t.Fatal(err)
			}
			const p = "reports/vulnerability-report.json"
			a, err := oci.AttachArtifact(ctx, s, image, p, report, oci.ArtifactOptions{Step: "scan"})
			if err != nil {
				t.Fatal(err)
			}
			if a.Existed {
				t.Error("first attach says the artifact existed")
			}
			m, err := oci.FetchManifest(ctx, s, a.Manifest, oci.DefaultMaxManifestBytes)
			if err != nil {
				t.Fatal(err)
			}
			l := m.Layers[0]
			if m.ArtifactType != oci.ArtifactTypeArtifact || m.Config.MediaType != oci.ArtifactTypeArtifact || len(m.Layers) != 1 ||
				l.Digest.String() != "sha256:"+sha256hex(report) || l.MediaType != oci.MediaTypeArtifactLayer ||
				l.Annotations[oci.AnnotationTitle] != p || m.Annotations[oci.AnnotationTitle] != p ||
				m.Annotations[oci.AnnotationKind] != oci.KindArtifact || m.Annotations[oci.AnnotationStep] != "scan" || m.Subject.Digest != image.Digest {
				t.Fatalf("manifest: %+v", m)
			}

			graph, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Links) != 1 || len(b.Layouts) != 0 || len(b.Skipped) != 0 {
				t.Fatalf("gathered %d links, %d layouts, skipped %v", len(b.Links), len(b.Layouts), b.Skipped)
			}
			node := findNodes(graph, a.Manifest.Digest.String())
			if len(node) != 1 || node[0].Artifact == nil || node[0].Artifact.Path != p || node[0].Artifact.Digest != l.Digest.String() || node[0].Artifact.Size != int64(len(report)) {
				t.Fatalf("discover: %+v", node)
			}
			var tree bytes.Buffer
			if err := graph.WriteTree(&tree, "app"); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("(artifact, path %s, %s, %d bytes, step scan)", p, l.Digest, len(report))
			if !strings.Contains(tree.String(), want) {
				t.Errorf("tree lacks %q:\n%s", want, tree.String())
			}
			js, _ := json.Marshal(graph)
			if !strings.Contains(string(js), `"artifact":{"path":"`+p+`","digest":"`+l.Digest.String()+`","size":`+fmt.Sprint(len(report))+`,"step":"scan"}`) {
				t.Errorf("JSON: %s", js)
			}

			fromGraph := oci.ArtifactsOf(s, graph, oci.ArtifactSetOptions{})
			fromListing, err := oci.NewArtifactSet(ctx, s, image, oci.ArtifactSetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for name, set := range map[string]*oci.ArtifactSet{"graph": fromGraph, "listing": fromListing} {
				if got := set.Paths(); len(got) != 1 || got[0].Path != p || got[0].Referrer != a.Manifest.Digest.String() {
					t.Errorf("%s: paths %+v", name, got)
				}
				checkLookups(t, name, set, p, report, a.Manifest)
			}

			dir := t.TempDir()
			res, err := oci.WriteBundle(b, dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := fromGraph.WriteFiles(ctx, dir, res); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "reports", "vulnerability-report.json"))
			if err != nil || !bytes.Equal(got, report) {
				t.Fatalf("pulled %q, %v", got, err)
			}
			if len(res.Files) != 2 || res.Files[1].Path != filepath.Join(dir, "reports", "vulnerability-report.json") || res.Files[1].Referrer != a.Manifest.Digest.String() || len(res.Skipped) != 0 {
				t.Errorf("pull result: %+v", res)
			}
		})
	}
}

// checkLookups asks set for the right path and sha256, then for a wrong
// sha256, a wrong path, and a malformed sha256: only the first gives the
// file, and only it is in Used.
func checkLookups(t *testing.T, name string, set *oci.ArtifactSet, p string, data []byte, referrer ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	hx := sha256hex(data)
	for _, c := range []struct{ what, path, sha, msg string }{
		{"wrong sha256", p, sha256hex([]byte("other")), "no artifact referrer of sha256:"},
		{"wrong path", "other.json", hx, `holds other.json with sha256 ` + hx[:12]},
		{"sha256 in capitals", p, strings.ToUpper(hx), "is not a SHA-256 in lowercase hex"},
		{"not a sha256", p, "abc", "is not a SHA-256"},
	} {
		_, err := set.Artifact(ctx, c.path, c.sha)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s, %s: %v", name, c.what, err)
		}
	}
	if u := set.Used(); len(u) != 0 {
		t.Errorf("%s: used %v before any artifact was read", name, u)
	}
	got, err := set.Artifact(ctx, p, hx)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%s: Artifact = %q, %v", name, got, err)
	}
	if u := set.Used(); len(u) != 1 || u[0].Digest != referrer.Digest {
		t.Errorf("%s: used %v, want %s", name, u, referrer.Digest)
	}
}

// TestAttachArtifactIdempotent: attaching the same file at the same path
// again writes nothing (counted at the registry); the same bytes at
// another path, or other bytes at the same path, are other referrers.
func TestAttachArtifactIdempotent(t *testing.T) {
	for _, api := range []bool{true, false} {
		name := map[bool]string{true: "referrers-api", false: "tag-schema"}[api]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			be := newBackend(t, api)
			s := open(t, be.host+"/app")
			image := pushImage(t, s, "app")
			first, err := oci.AttachArtifact(ctx, s, image, "report.json", report, oci.ArtifactOptions{})
			if err != nil {
				t.Fatal(err)
			}
			be.records(true)
			again, err := oci.AttachArtifact(ctx, s, image, "report.json", report, oci.ArtifactOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !again.Existed || again.Manifest.Digest != first.Manifest.Digest {
				t.Errorf("again: %+v, first %s", again, first.Manifest.Digest)
			}
			if w := writesPerDigest(be.records(true)); len(w) != 0 {
				t.Errorf("attaching again wrote %v", w)
			}
			renamed, err := oci.AttachArtifact(ctx, s, image, "copy/report.json", report, oci.ArtifactOptions{})
			if err != nil {
				t.Fatal(err)
			}
			changed, err := oci.AttachArtifact(ctx, s, image, "", []byte("{}"), oci.ArtifactOptions{Name: "report.json"})
			if err != nil {
				t.Fatal(err)
			}
			if renamed.Existed || changed.Existed {
				t.Errorf("another path or other content reused a referrer: %+v %+v", renamed, changed)
			}
			set, err := oci.NewArtifactSet(ctx, s, image, oci.ArtifactSetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, i := range set.Paths() {
				got = append(got, i.Path+"@"+i.Digest[7:19])
			}
			want := []string{"copy/report.json@" + sha256hex(report)[:12], "report.json@" + sha256hex([]byte("{}"))[:12], "report.json@" + sha256hex(report)[:12]}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("paths %v, want %v", got, want)
			}
		})
	}
}

// TestAttachArtifactRefuses paths that do not name one file relative to
// where a step ran, as links name them, files over the bound and files
// that changed since a link recorded them: one line each, nothing
// attached.
func TestAttachArtifactRefuses(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, s, "app")
	for _, c := range []struct {
		name, path string
		data       []byte
		o          oci.ArtifactOptions
		msg        string
	}{
		{"empty", "", report, oci.ArtifactOptions{}, "empty artifact path"},
		{"absolute", "/tmp/report.json", report, oci.ArtifactOptions{}, `artifact path /tmp/report.json is absolute; links record paths relative to where the step ran (name it as the link records it: --name)`},
		{"absolute name", "report.json", report, oci.ArtifactOptions{Name: "/etc/passwd"}, "is absolute"},
		{"dot-dot", "../report.json", report, oci.ArtifactOptions{}, "leaves the directory"},
		{"dot-dot inside", "a/../../b", report, oci.ArtifactOptions{}, "is not normalised"},
		{"dot-slash", "./report.json", report, oci.ArtifactOptions{}, "is not normalised (want report.json)"},
		{"double slash", "a//b", report, oci.ArtifactOptions{}, "is not normalised"},
		{"trailing slash", "a/", report, oci.ArtifactOptions{}, "is not normalised"},
		{"dot", ".", report, oci.ArtifactOptions{}, "leaves the directory"},
		{"NUL", "a\x00b", report, oci.ArtifactOptions{}, `artifact path "a\x00b" has a NUL or backslash`},
		{"backslash", `a\b`, report, oci.ArtifactOptions{}, "has a NUL or backslash"},
		{"URI", "git+https://example.com/x", report, oci.ArtifactOptions{}, "is a URI, not a file"},
		{"terminal escape", "\x1b[2Jreport.json", report, oci.ArtifactOptions{}, `"\x1b[2Jreport.json" has a character`},
		{"not UTF-8", "r\xffeport", report, oci.ArtifactOptions{}, "is not UTF-8"},
		{"over the bound", "report.json", report, oci.ArtifactOptions{MaxBytes: int64(len(report)) - 1}, fmt.Sprintf("artifact report.json is %d bytes, more than the %d allowed", len(report), len(report)-1)},
		{"over the default bound", "big.bin", make([]byte, oci.DefaultMaxArtifactBytes+1), oci.ArtifactOptions{}, "more than the 67108864 allowed"},
		{"changed since recorded", "report.json", report, oci.ArtifactOptions{SHA256: sha256hex([]byte("x"))}, "hashes to sha256 " + sha256hex(report)[:12] + ", not to the " + sha256hex([]byte("x"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := oci.AttachArtifact(ctx, s, image, c.path, c.data, c.o)
			if err == nil || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want %q", err, c.msg)
			}
		})
	}
	if list, err := oci.ListReferrers(ctx, s, image, "", 0); err != nil || len(list) != 0 {
		t.Fatalf("attached %v (%v)", list, err)
	}
	// The hash a link records is accepted.
	if _, err := oci.AttachArtifact(ctx, s, image, "report.json", report, oci.ArtifactOptions{SHA256: sha256hex(report)}); err != nil {
		t.Fatal(err)
	}
}
