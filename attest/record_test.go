package attest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/referee-dev/referee/attest"
)

func sha(s string) attest.HashObj {
	sum := sha256.Sum256([]byte(s))
	return attest.HashObj{"sha256": hex.EncodeToString(sum[:])}
}

func names(m map[string]attest.HashObj) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tree makes files (path → content) under a new temporary directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		writeFile(t, filepath.Join(dir, p), c)
	}
	return dir
}

func record(t *testing.T, dir string, paths []string, o attest.RecordOptions) map[string]attest.HashObj {
	t.Helper()
	o.Dir = dir
	got, err := attest.RecordArtifacts(context.Background(), paths, o)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRecordArtifacts(t *testing.T) {
	dir := tree(t, map[string]string{
		"a.txt":               "a",
		"src/b.go":            "b",
		"src/deep/c.go":       "c",
		"src/x.pyc":           "bytecode",
		"src/backup~":         "old",
		"build.1234abcd.link": "link",
		".git/HEAD":           "ref",
		".hidden":             "h",
	})
	got := record(t, dir, []string{"."}, attest.RecordOptions{})
	want := map[string]attest.HashObj{"a.txt": sha("a"), "src/b.go": sha("b"), "src/deep/c.go": sha("c"), ".hidden": sha("h")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("default excludes: got %v\nwant %v", names(got), names(want))
	}
	// Paths are normalised as the Python reference does.
	got = record(t, dir, []string{"./src/../src/deep", "a.txt"}, attest.RecordOptions{})
	if !reflect.DeepEqual(names(got), []string{"a.txt", "src/deep/c.go"}) {
		t.Fatalf("normalised: %v", names(got))
	}
	// --exclude replaces the defaults.
	got = record(t, dir, []string{"."}, attest.RecordOptions{ExcludePatterns: []string{"src/deep"}})
	want2 := []string{".git/HEAD", ".hidden", "a.txt", "build.1234abcd.link", "src/b.go", "src/backup~", "src/x.pyc"}
	if !reflect.DeepEqual(names(got), want2) {
		t.Fatalf("--exclude src/deep: %v, want %v", names(got), want2)
	}
	// An empty (non-nil) list excludes nothing.
	if got = record(t, dir, []string{"."}, attest.RecordOptions{ExcludePatterns: []string{}}); len(got) != 8 {
		t.Fatalf("no excludes: %v", names(got))
	}
	// lstrip removes the first matching prefix.
	got = record(t, dir, []string{"src", "a.txt"}, attest.RecordOptions{LStripPaths: []string{"a", "src/"}})
	if !reflect.DeepEqual(names(got), []string{".txt", "b.go", "deep/c.go"}) {
		t.Fatalf("lstrip: %v", names(got))
	}
	// The same file named twice is recorded once.
	if got = record(t, dir, []string{"a.txt", "a.txt", "./a.txt"}, attest.RecordOptions{}); len(got) != 1 {
		t.Fatalf("duplicates: %v", names(got))
	}
}

func TestRecordArtifactsErrors(t *testing.T) {
	dir := tree(t, map[string]string{"x/f": "1", "y/f": "2"})
	for _, tc := range []struct {
		name  string
		paths []string
		o     attest.RecordOptions
		want  []string
	}{
		{"lstrip collision", []string{"x", "y"}, attest.RecordOptions{LStripPaths: []string{"x/", "y/"}}, []string{`recorded as "f"`, "--lstrip-paths"}},
		{"lstrip prefixes of each other", []string{"x"}, attest.RecordOptions{LStripPaths: []string{"x/", "x/f"}}, []string{`"x/" is a prefix of "x/f"`}},
		{"lstrip duplicate prefix", []string{"x"}, attest.RecordOptions{LStripPaths: []string{"x/", "x/"}}, []string{"is a prefix of"}},
		{"lstrip to nothing", []string{"x/f"}, attest.RecordOptions{LStripPaths: []string{"x/f"}}, []string{`"x/f"`, "empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Dir = dir
			_, err := attest.RecordArtifacts(context.Background(), tc.paths, tc.o)
			wantErr(t, err, tc.want...)
		})
	}
}

func TestRecordSymlinks(t *testing.T) {
	dir := tree(t, map[string]string{"real/f.txt": "target", "top.txt": "top"})
	for _, l := range [][2]string{
		{"top.txt", "link.txt"},
		{"real", "linkdir"},
		{"missing", "broken"},
	} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}
	got := record(t, dir, []string{"."}, attest.RecordOptions{FollowSymlinkDirs: true})
	want := map[string]attest.HashObj{"top.txt": sha("top"), "link.txt": sha("top"), "real/f.txt": sha("target"), "linkdir/f.txt": sha("target")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("following: got %v, want %v", got, want)
	}
	got = record(t, dir, []string{"."}, attest.RecordOptions{})
	delete(want, "linkdir/f.txt")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("not following dirs: got %v, want %v", names(got), names(want))
	}
	// A broken symlink named directly is skipped too.
	if got = record(t, dir, []string{"broken"}, attest.RecordOptions{}); len(got) != 0 {
		t.Fatalf("broken: %v", got)
	}
	for _, p := range []string{".", "link.txt", "linkdir", "broken"} {
		_, err := attest.RecordArtifacts(context.Background(), []string{p}, attest.RecordOptions{Dir: dir, RefuseSymlinks: true, FollowSymlinkDirs: true})
		wantErr(t, err, "is a symlink")
	}
	// A loop of symlinked directories ends in an error, not a hang.
	if err := os.Symlink("..", filepath.Join(dir, "real", "up")); err != nil {
		t.Fatal(err)
	}
	_, err := attest.RecordArtifacts(context.Background(), []string{"."}, attest.RecordOptions{Dir: dir, FollowSymlinkDirs: true})
	wantErr(t, err, "a loop?")
}

// TestRecordParallel checks that hashing on many workers gives what one
// worker and a plain sha256 give.
func TestRecordParallel(t *testing.T) {
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("d%d/f%03d", i%7, i)] = fmt.Sprintf("content %d %s", i, string(make([]byte, i*97)))
	}
	dir := tree(t, files)
	par := record(t, dir, []string{"."}, attest.RecordOptions{Workers: 16})
	seq := record(t, dir, []string{"."}, attest.RecordOptions{Workers: 1})
	if !reflect.DeepEqual(par, seq) {
		t.Fatal("parallel and sequential hashing differ")
	}
	if len(par) != len(files) {
		t.Fatalf("%d artifacts, want %d", len(par), len(files))
	}
	for p, c := range files {
		if !reflect.DeepEqual(par[p], sha(c)) {
			t.Fatalf("%s: %v, want %v", p, par[p], sha(c))
		}
	}
	// A cancelled context stops the recording.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := attest.RecordArtifacts(ctx, []string{"."}, attest.RecordOptions{Dir: dir}); err == nil {
		t.Fatal("cancelled context: no error")
	}
}
