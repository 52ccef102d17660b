package verify_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
	"github.com/referee-dev/referee/verify"
)

// TestLargeProductNotRead: local verification learns that a large product
// (300 MB, a sparse file) is available by hashing it as it streams, and
// reads whole only the small report the native check reads: it allocates
// little and verifies.
func TestLargeProductNotRead(t *testing.T) {
	largeProduct(t, checkRun(noCritical, "vulnerability-report.json"), verify.Options{})
}

// TestLargeProductStreamed: a command inspection is given a large product
// streamed from the directory into its own, not read into memory.
func TestLargeProductStreamed(t *testing.T) {
	largeProduct(t, []string{"sh", "-c", `test "$(wc -c < app.tar)" -eq 314572800 && grep -q LOW vulnerability-report.json`}, verify.Options{Inspector: &verify.ArtifactInspector{TempDir: t.TempDir()}})
}

// largeProduct verifies, locally with run as the inspection, a chain
// whose build made a 300 MB app.tar (a sparse file in the directory), and
// bounds what the verification allocates.
func largeProduct(t *testing.T, run []string, o verify.Options) {
	if testing.Short() {
		t.Skip("hashes a 300 MB file")
	}
	const size = 300 << 20
	c := newScanChain(t, run)
	// app.tar is available, so it is among the inspection's materials.
	c.layout.Inspect[0].ExpectedMaterials = rules(t, "MATCH vulnerability-report.json WITH PRODUCTS FROM scan", "ALLOW app.tar", "DISALLOW *")
	c.app = make([]byte, size) // zeros, as the sparse file reads
	links := c.links(cleanReport)
	c.app = nil
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vulnerability-report.json"), cleanReport, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "app.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	o.Artifacts, o.ImageDigest = verify.DirArtifacts(dir), "-"
	r, err := c.verify(links, o)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	wantPass(t, r, err)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d MB product beside the report: verified in %v, %d MB allocated", size>>20, took, alloc>>20)
	if alloc > 64<<20 {
		t.Errorf("verification allocated %d MB: the product was read into memory", alloc>>20)
	}
}

// TestDirArtifactsHas: DirArtifacts.HasArtifact answers as Artifact does,
// without the bytes.
func TestDirArtifactsHas(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.json"), cleanReport, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := verify.DirArtifacts(dir)
	for _, tc := range []struct {
		name, path, hash string
		has              bool
		want             error
	}{
		{"present", "r.json", sum(cleanReport), true, nil},
		{"other bytes", "r.json", sum(criticalReport), false, fs.ErrNotExist},
		{"missing", "none.json", sum(cleanReport), false, fs.ErrNotExist},
		{"a directory", "sub", sum(cleanReport), false, fs.ErrNotExist},
		{"outside", "../r.json", sum(cleanReport), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			has, err := a.HasArtifact(context.Background(), tc.path, tc.hash)
			if has != tc.has || (tc.has && err != nil) || (!tc.has && err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("HasArtifact = %v, %v", has, err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if has, err := a.HasArtifact(ctx, "r.json", sum(cleanReport)); has || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, %v", has, err)
	}
}

// checkerArtifacts is memArtifacts that also says whether it has an
// artifact, and records the paths whose bytes were read.
type checkerArtifacts struct {
	memArtifacts
	read []string
}

func (c *checkerArtifacts) Artifact(ctx context.Context, path, hash string) ([]byte, error) {
	c.read = append(c.read, path)
	return c.memArtifacts.Artifact(ctx, path, hash)
}

func (c *checkerArtifacts) HasArtifact(_ context.Context, path, hash string) (bool, error) {
	data, ok := c.memArtifacts[path]
	return ok && sum(data) == hash, nil
}

// TestArtifactCheckerAskedFirst: the engine learns availability from an
// ArtifactChecker and reads only the file the native check reads; what it
// says it lacks is not available.
func TestArtifactCheckerAskedFirst(t *testing.T) {
	c := newScanChain(t, checkRun(noCritical, "vulnerability-report.json"))
	c.layout.Inspect[0].ExpectedMaterials = rules(t, "MATCH vulnerability-report.json WITH PRODUCTS FROM scan", "ALLOW app.tar", "DISALLOW *")
	src := &checkerArtifacts{memArtifacts: memArtifacts{"vulnerability-report.json": cleanReport, "app.tar": c.app}}
	r, err := c.verify(c.links(cleanReport), verify.Options{Artifacts: src, ImageDigest: "-"})
	wantPass(t, r, err)
	if len(src.read) != 1 || src.read[0] != "vulnerability-report.json" {
		t.Errorf("read %q, want only the report", src.read)
	}
	if m := r.Inspections[0].Rules[1]; m.Consumed != 1 {
		t.Errorf("app.tar is not among the materials: %+v", r.Inspections[0].Rules)
	}
	src = &checkerArtifacts{memArtifacts: memArtifacts{"app.tar": c.app}}
	r, err = c.verify(c.links(cleanReport), verify.Options{Artifacts: src, ImageDigest: "-"})
	wantFail(t, r, err, `"vulnerability-report.json" is recorded by step "scan" but not available: there is none at that path`)
	if len(src.read) != 0 {
		t.Errorf("read %q", src.read)
	}
}

// TestCheckedFileTooLarge: a file a native check reads that is larger
// than a check reads is refused without being read whole.
func TestCheckedFileTooLarge(t *testing.T) {
	c := newScanChain(t, checkRun(noCritical, "vulnerability-report.json"))
	big := append(make([]byte, 0, check.MaxDocumentBytes+1), cleanReport...)
	for len(big) <= check.MaxDocumentBytes {
		big = append(big, ' ')
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vulnerability-report.json"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := c.verify(c.links(big), verify.Options{Artifacts: verify.DirArtifacts(dir), ImageDigest: "-"})
	wantFail(t, r, err, fmt.Sprintf("is more than the %d bytes a check reads", check.MaxDocumentBytes))
}

// TestStagedStreamChecked: an artifact streamed into an inspection's
// directory must hash to the sha256 its link records, or the inspection
// does not run.
func TestStagedStreamChecked(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.json"), cleanReport, 0o644); err != nil {
		t.Fatal(err)
	}
	ai := &verify.ArtifactInspector{TempDir: t.TempDir()}
	in := attest.Inspection{Name: "look", Run: []string{"grep", "-q", "LOW", "r.json"}}
	for _, tc := range []struct {
		name, hash, want string
	}{
		{"recorded bytes", sum(cleanReport), ""},
		{"other bytes", sum(criticalReport), `artifact r.json of step "scan": its bytes hash to sha256 ` + sum(cleanReport)[:12]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			staged := []verify.StagedArtifact{{Path: "r.json", Step: "scan", Hash: attest.HashObj{"sha256": tc.hash}}}
			link, err := ai.InspectArtifacts(context.Background(), in, staged, verify.DirArtifacts(dir))
			switch {
			case tc.want == "" && (err != nil || link.Materials["r.json"]["sha256"] != tc.hash):
				t.Errorf("%v, %+v", err, link)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}
