package attest_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
)

// hashTrees are the two hashing workloads of issue 13: 1 GiB in 10,000
// files, and 100,000 files of 1 KiB (where the cost is per file: open,
// read, close, not SHA-256).
var hashTrees = []struct{ n, size int }{{10000, (1 << 30) / 10000}, {100000, 1 << 10}}

// benchTree makes (once, kept in the temporary directory across runs) a
// tree of n files of size bytes of fixed pseudo-random content, spread over
// 100 directories, and reads it once so that it is in the page cache.
func benchTree(b *testing.B, n, size int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("referee-bench-%dx%d", n, size))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		os.RemoveAll(dir)
		data := make([]byte, size)
		for i := range n {
			sub := filepath.Join(dir, "tree", fmt.Sprintf("d%02d", i%100))
			if i < 100 {
				if err := os.MkdirAll(sub, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			fill(data, uint64(i))
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d", i)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := attest.RecordArtifacts(context.Background(), []string{"tree"}, attest.RecordOptions{Dir: dir}); err != nil {
		b.Fatal(err) // warms the page cache
	}
	return dir
}

// fill writes fixed pseudo-random bytes (SHA-256 in counter mode) to p.
func fill(p []byte, seed uint64) {
	var ctr [16]byte
	binary.LittleEndian.PutUint64(ctr[:8], seed)
	for off := 0; off < len(p); off += sha256.Size {
		binary.LittleEndian.PutUint64(ctr[8:], uint64(off))
		sum := sha256.Sum256(ctr[:])
		copy(p[off:], sum[:])
	}
}

// BenchmarkHashTree measures the hashing of `referee run` on the two
// workloads: on every core (referee's default), on one core, and beside it
// `openssl dgst -sha256` and `sha256sum` over every core (xargs -P, as many
// processes as cores, 5,000 files each) on the same tree. Compare the MB/s
// and files/s columns of one run.
func BenchmarkHashTree(b *testing.B) {
	for _, tc := range hashTrees {
		name := fmt.Sprintf("%dx%dKiB", tc.n, tc.size>>10)
		b.Run(name+"/referee", func(b *testing.B) { benchRecord(b, tc.n, tc.size, 0) })
		b.Run(name+"/referee-1core", func(b *testing.B) { benchRecord(b, tc.n, tc.size, 1) })
		b.Run(name+"/referee-run", func(b *testing.B) { benchRun(b, tc.n, tc.size) })
		for _, peer := range []string{"openssl dgst -sha256", "sha256sum"} {
			b.Run(name+"/"+peer[:strings.IndexByte(peer+" ", ' ')], func(b *testing.B) {
				if _, err := exec.LookPath(peer[:strings.IndexByte(peer+" ", ' ')]); err != nil {
					b.Skip(err)
				}
				dir := benchTree(b, tc.n, tc.size)
				cpu := cpuTime()
				b.ResetTimer()
				for range b.N {
					cmd := exec.Command("sh", "-c", `cd "$1" && find tree -type f -print0 | xargs -0 -P "$2" -n 5000 `+peer+` >/dev/null`, "sh", dir, strconv.Itoa(runtime.NumCPU()))
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("%v: %s", err, out)
					}
				}
				report(b, tc.n, tc.size, cpu)
			})
		}
	}
}

func benchRecord(b *testing.B, n, size, workers int) {
	dir := benchTree(b, n, size)
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		arts, err := attest.RecordArtifacts(context.Background(), []string{"tree"}, attest.RecordOptions{Dir: dir, Workers: workers})
		if err != nil {
			b.Fatal(err)
		}
		if len(arts) != n {
			b.Fatalf("recorded %d artifacts, want %d", len(arts), n)
		}
	}
	report(b, n, size, cpu)
}

// benchRun is what `referee run --products tree` does in process: record,
// then marshal, sign (ed25519, DSSE) and marshal the envelope, reporting
// the time of each half: the second is on one core.
func benchRun(b *testing.B, n, size int) {
	dir := benchTree(b, n, size)
	signer, err := attest.GenerateKey("")
	if err != nil {
		b.Fatal(err)
	}
	var hashing, linking time.Duration
	var linkBytes int
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		arts, err := attest.RecordArtifacts(context.Background(), []string{"tree"}, attest.RecordOptions{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		hashed := time.Now()
		hashing += hashed.Sub(start)
		payload, err := (&attest.Link{Name: "s", Products: arts}).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		env, err := attest.SignPayload(attest.FormDSSE, payload, signer)
		if err != nil {
			b.Fatal(err)
		}
		data, err := env.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		linkBytes = len(data)
		linking += time.Since(hashed)
	}
	report(b, n, size, cpu)
	b.ReportMetric(hashing.Seconds()/float64(b.N), "hash-s/op")
	b.ReportMetric(linking.Seconds()/float64(b.N), "link-s/op")
	b.ReportMetric(float64(linkBytes), "link-bytes")
}

// report adds MB/s and files/s to the benchmark's line, and the CPU time
// (user and system, of this process and its children) an operation took
// since cpu was read: on a busy machine a steadier measure than the wall.
func report(b *testing.B, n, size int, cpu time.Duration) {
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(n)*float64(size)/1e6/s, "MB/s")
	b.ReportMetric(float64(n)/s, "files/s")
	if now := cpuTime(); now > 0 {
		b.ReportMetric((now-cpu).Seconds()/float64(b.N), "cpu-s/op")
	}
}
