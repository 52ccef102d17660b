package attest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestRecordWalk checks the walk's shapes against plain sha256: a directory
// of many batches of files, nesting, a file larger than a worker's buffer,
// empty files and directories, on one worker and on several; paths given
// that overlap count each file once.
func TestRecordWalk(t *testing.T) {
	files := map[string]string{
		"big.bin":           strings.Repeat("0123456789abcdef", 150000), // 2.4 MB: several reads
		"empty":             "",
		"a/b/c/d/deep":      "deep",
		"a/b/sibling":       "sibling",
		"x/empty-dir/.keep": "",
	}
	for i := range 1000 { // 16 batches in one directory
		files[fmt.Sprintf("many/f%04d", i)] = fmt.Sprintf("file %d", i)
	}
	dir := tree(t, files)
	want := map[string]attest.HashObj{}
	for p, c := range files {
		want[p] = sha(c)
	}
	for _, workers := range []int{1, 2, 8} {
		if got := record(t, dir, []string{"."}, attest.RecordOptions{Workers: workers}); !reflect.DeepEqual(got, want) {
			t.Fatalf("%d workers: %d artifacts differ from sha256 of the %d files", workers, len(got), len(want))
		}
	}
	// Overlapping paths, and a file by its absolute path.
	got := record(t, dir, []string{"many", ".", "many/f0007", "./a/b", filepath.Join(dir, "empty")}, attest.RecordOptions{})
	abs := filepath.ToSlash(filepath.Join(dir, "empty"))
	want[abs] = sha("")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("overlapping paths: %d artifacts, want %d", len(got), len(want))
	}
}

// TestRecordCancelled: a context cancelled in the middle of a walk stops it
// with the context's error.
func TestRecordCancelled(t *testing.T) {
	files := map[string]string{}
	for i := range 1000 {
		files[fmt.Sprintf("d%d/f%04d", i%3, i)] = "x"
	}
	dir := tree(t, files)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hashed := 0
	_, err := attest.RecordArtifacts(ctx, []string{"."}, attest.RecordOptions{Dir: dir, Progress: func(n int, _ int64) {
		if hashed = n; n == 100 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled after 100 files: %v", err)
	}
	if hashed >= len(files) {
		t.Fatalf("cancelled after 100 files, hashed all %d", hashed)
	}
}
