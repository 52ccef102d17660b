package oci_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/oci"
)

// TestArtifactPullConfined: pull writes artifacts at their paths inside
// --out and nowhere else: a directory or file on the way that is a
// symbolic link (to outside) is not followed, names that pull writes
// evidence to or that in-toto-verify reads as evidence are left to the
// evidence, and of two artifacts at one path the newer is written.
func TestArtifactPullConfined(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, s, "app")
	at := func(min int) oci.ArtifactOptions {
		return oci.ArtifactOptions{Created: time.Date(2026, 1, 1, 0, min, 0, 0, time.UTC)}
	}
	attach := func(p, content string, o oci.ArtifactOptions) string {
		a, err := oci.AttachArtifact(ctx, s, image, p, []byte(content), o)
		if err != nil {
			t.Fatal(err)
		}
		return a.Manifest.Digest.String()
	}
	attach("linked/x.json", "into a linked directory", at(0))
	attach("linked.json", "onto a linked file", at(0))
	attach("root.layout", "not a layout", at(0))
	attach("build.12345678.link", "not a link", at(0))
	attach("sub.abcdef12/notes.txt", "among a sublayout's links", at(0))
	attach("notes.txt", "where evidence was written", at(0))
	attach("deep/er/report.json", "old", at(1))
	newer := attach("deep/er/report.json", "new", at(2))
	attach("replaced.txt", "replaces a regular file", at(0))

	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "target.json"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "target.json"), filepath.Join(dir, "linked.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "replaced.txt"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	// What WriteBundle would have written: a link, and a sublayout's.
	res := &oci.PullResult{Files: []oci.Written{{Path: filepath.Join(dir, "notes.txt")}, {Path: filepath.Join(dir, "sub.abcdef12", "test.abcdef12.link")}}}

	graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	set := oci.ArtifactsOf(s, graph, oci.ArtifactSetOptions{})
	if err := set.WriteFiles(ctx, dir, res); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"deep/er/report.json": "new", "replaced.txt": "replaces a regular file"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	for _, name := range []string{"root.layout", "build.12345678.link", "sub.abcdef12", "linked.json"} {
		if fi, err := os.Lstat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			t.Errorf("%s was written", name)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("outside holds %v", entries)
	}
	if got, _ := os.ReadFile(filepath.Join(outside, "target.json")); string(got) != "outside" {
		t.Errorf("the linked file outside became %q", got)
	}
	reasons := map[string]string{}
	for _, sk := range res.Skipped {
		p := strings.TrimPrefix(sk.Reason, "artifact ")
		p, _, _ = strings.Cut(p, " ")
		reasons[p] += sk.Reason
	}
	for p, want := range map[string]string{
		"linked/x.json":          "linked is there already and is not a directory (a symbolic link, which pull does not follow)",
		"linked.json":            "linked.json is there already and is not a regular file (a symbolic link",
		"root.layout":            "in-toto-verify would read it as evidence",
		"build.12345678.link":    "in-toto-verify would read it as evidence",
		"sub.abcdef12/notes.txt": "in-toto-verify would read it as evidence",
		"notes.txt":              "pull writes the evidence there",
		"deep/er/report.json":    "the newer " + newer + " is written there",
	} {
		if !strings.Contains(reasons[p], want) {
			t.Errorf("%s: skipped %q, want %q", p, reasons[p], want)
		}
	}
	if len(res.Skipped) != 7 || len(res.Files) != 4 {
		t.Errorf("skipped %d, files %+v", len(res.Skipped), res.Files)
	}
	if u := set.Used(); len(u) != 2 {
		t.Errorf("used %v", u)
	}
}
