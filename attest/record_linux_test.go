package attest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(fds)
}

// TestRecordClosesDirectories: directories stay open only while their
// files are hashed, and a walk that fails or is cancelled midway leaves
// none open. A named pipe is not an artifact (and opening it would block).
func TestRecordClosesDirectories(t *testing.T) {
	files := map[string]string{}
	for i := range 1500 {
		files[fmt.Sprintf("d%d/e%d/f%04d", i%5, i%7, i)] = "x"
	}
	dir := tree(t, files)
	if err := syscall.Mkfifo(filepath.Join(dir, "d0", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := openFiles(t)
	got := record(t, dir, []string{"."}, attest.RecordOptions{Workers: 4})
	if len(got) != len(files) {
		t.Fatalf("%d artifacts, want %d", len(got), len(files))
	}
	if after := openFiles(t); after != before {
		t.Fatalf("%d files open before recording, %d after", before, after)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := attest.RecordArtifacts(ctx, []string{"."}, attest.RecordOptions{Dir: dir, Workers: 4, Progress: func(n int, _ int64) {
		if n == 500 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("cancelled: no error")
	}
	if after := openFiles(t); after != before {
		t.Fatalf("%d files open before a cancelled recording, %d after", before, after)
	}
	if os.Geteuid() == 0 {
		return // permissions do not stop root
	}
	secret := filepath.Join(dir, "d3", "e3", "f0003")
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	_, err = attest.RecordArtifacts(context.Background(), []string{"."}, attest.RecordOptions{Dir: dir, Workers: 4})
	wantErr(t, err, `hashing "d3/e3/f0003"`, secret, "permission denied")
	os.Chmod(secret, 0o644)
	closed := filepath.Join(dir, "d2", "e4")
	if err := os.Chmod(closed, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(closed, 0o755)
	_, err = attest.RecordArtifacts(context.Background(), []string{"."}, attest.RecordOptions{Dir: dir, Workers: 4})
	wantErr(t, err, `recording "d2/e4"`, "permission denied")
	if after := openFiles(t); after != before {
		t.Fatalf("%d files open before failed recordings, %d after", before, after)
	}
}
