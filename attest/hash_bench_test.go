package attest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// benchTree makes (once, cached in the temp directory across runs) a tree of
// n files of size bytes spread over 100 directories.
func benchTree(b *testing.B, n, size int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("referee-bench-%dx%d", n, size))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	data := make([]byte, size)
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, "tree", fmt.Sprintf("d%02d", i%100))
		if i < 100 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		copy(data, strconv.Itoa(i)) // distinct contents
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkHashTree measures the hashing throughput of `referee run` on a
// tree of 10,000 files of 100 KiB and one of 100,000 files of 1 KiB: on
// every core (referee's default), on one core (as the references hash), and
// `openssl dgst -sha256` spread over every core with xargs -P on the same
// tree. Compare the MB/s columns.
func BenchmarkHashTree(b *testing.B) {
	for _, tc := range []struct{ n, size int }{{10000, 100 << 10}, {100000, 1 << 10}} {
		name := fmt.Sprintf("%dx%dKiB", tc.n, tc.size>>10)
		b.Run(name+"/referee", func(b *testing.B) { benchRecord(b, tc.n, tc.size, 0) })
		b.Run(name+"/referee-1core", func(b *testing.B) { benchRecord(b, tc.n, tc.size, 1) })
		b.Run(name+"/openssl-all-cores", func(b *testing.B) {
			if _, err := exec.LookPath("openssl"); err != nil {
				b.Skip("openssl not installed")
			}
			dir := benchTree(b, tc.n, tc.size)
			b.SetBytes(int64(tc.n * tc.size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cmd := exec.Command("sh", "-c", `cd "$1" && find tree -type f -print0 | xargs -0 -P "$2" -n 1000 openssl dgst -sha256 >/dev/null`, "sh", dir, strconv.Itoa(runtime.NumCPU()))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}

func benchRecord(b *testing.B, n, size, workers int) {
	dir := benchTree(b, n, size)
	b.SetBytes(int64(n * size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		arts, err := attest.RecordArtifacts(context.Background(), []string{"tree"}, attest.RecordOptions{Dir: dir, Workers: workers})
		if err != nil {
			b.Fatal(err)
		}
		if len(arts) != n {
			b.Fatalf("recorded %d artifacts, want %d", len(arts), n)
		}
	}
}
