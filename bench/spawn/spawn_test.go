package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/referee-dev/referee/internal/testenv"
)

// When REFEREE_SPAWN_TEST_ALLOC is set, the test binary is the child
// spawn runs: it touches that many MiB, then exits with
// REFEREE_SPAWN_TEST_EXIT.
func TestMain(m *testing.M) {
	if mib := os.Getenv("REFEREE_SPAWN_TEST_ALLOC"); mib != "" {
		n, _ := strconv.Atoi(mib)
		b := make([]byte, n<<20)
		for i := range b {
			b[i] = byte(i)
		}
		code, _ := strconv.Atoi(os.Getenv("REFEREE_SPAWN_TEST_EXIT"))
		fmt.Println(len(b))
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// spawnRun runs spawn on this test binary as a child that touches mib MiB
// and exits with code, and returns spawn's exit code, the child's stdout
// and what spawn reported on fd 3.
func spawnRun(t *testing.T, spawn string, mib, code int) (exit int, stdout string, wallNS, rssKiB, cpuNS int64) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var out bytes.Buffer
	cmd := exec.Command(spawn, self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("REFEREE_SPAWN_TEST_ALLOC=%d", mib), fmt.Sprintf("REFEREE_SPAWN_TEST_EXIT=%d", code))
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = &out, os.Stderr, []*os.File{pw}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := cmd.Wait(); err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if _, err := fmt.Fscan(pr, &wallNS, &rssKiB, &cpuNS); err != nil {
		t.Fatalf("reading the report: %v", err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), wallNS, rssKiB, cpuNS
}

func TestSpawnReportsChild(t *testing.T) {
	spawn := filepath.Join(t.TempDir(), "spawn")
	if out, err := exec.Command("go", "build", "-o", spawn, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The test process itself is larger than what the small child
	// touches: spawn must report the child's peak, not its parent's.
	ballast := make([]byte, 96<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	for _, tc := range []struct{ mib, code int }{{4, 0}, {64, 0}, {8, 3}} {
		exit, stdout, wall, rss, cpu := spawnRun(t, spawn, tc.mib, tc.code)
		if exit != tc.code {
			t.Errorf("%d MiB: exit %d, want %d", tc.mib, exit, tc.code)
		}
		if stdout != fmt.Sprintf("%d\n", tc.mib<<20) {
			t.Errorf("%d MiB: child's stdout %q", tc.mib, stdout)
		}
		if wall <= 0 || cpu <= 0 {
			t.Errorf("%d MiB: wall %d ns, CPU %d ns", tc.mib, wall, cpu)
		}
		// The child is a Go test binary: its own few MiB on top of what it
		// touched (and, under the race detector, the detector's memory).
		lo, hi := int64(tc.mib)<<10, int64(tc.mib+40)<<10
		if rss < lo || (rss > hi && !testenv.Race) {
			t.Errorf("%d MiB: peak RSS %d KiB, want %d–%d", tc.mib, rss, lo, hi)
		}
	}
	_ = ballast[len(ballast)-1]
}
