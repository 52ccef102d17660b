package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// childEnv marks the test binary run by RunChild.
const childEnv = "REFEREE_TEST_CHILD"

// InChild reports whether the running test is the one RunChild started.
func InChild() bool { return os.Getenv(childEnv) == "1" }

// RunChild runs the test named test of the running test binary in a child
// process, with env added to its environment (InChild is true there), and
// returns the child's peak resident set size (VmHWM, in bytes, which the
// child prints with PrintPeakRSS as it ends) and its output. Memory is
// measured in a child so that the registry serving the evidence, in the
// parent, is not counted, and so that each run starts from a fresh heap.
// With REFEREE_CHILD_MEMPROFILE=FILE set, the child writes its memory
// profile to FILE. It skips the test on other systems than Linux, and
// under the race detector (Race).
func RunChild(tb testing.TB, test string, env ...string) (int64, string) {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("peak RSS is read from /proc/self/status")
	}
	if Race {
		tb.Skip("peak RSS under the race detector is the detector's")
	}
	args := []string{"-test.run=^" + test + "$", "-test.count=1", "-test.v"}
	if f := os.Getenv("REFEREE_CHILD_MEMPROFILE"); f != "" {
		// The child's allocations, for go tool pprof.
		args = append(args, "-test.memprofile="+f, "-test.memprofilerate=65536")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("child %s: %v\n%s", test, err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "peak-rss-bytes "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatalf("child %s: %q", test, sc.Text())
			}
			return n, string(out)
		}
	}
	tb.Fatalf("child %s printed no peak RSS:\n%s", test, out)
	return 0, ""
}

// PeakRSS is this process's peak resident set size so far, in bytes
// (VmHWM of /proc/self/status).
func PeakRSS() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM: %q", v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// PrintPeakRSS prints PeakRSS for RunChild.
func PrintPeakRSS(tb testing.TB) {
	tb.Helper()
	n, err := PeakRSS()
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Printf("\npeak-rss-bytes %d\n", n)
}

// BenchPeakRSS runs test in a child process (RunChild) with env once per
// iteration of b, and reports the highest peak RSS over the evidence
// bytes (peakRSS/evidence), the same less idle, the peak RSS of a child
// that did nothing (extraRSS/evidence), and both in MiB.
func BenchPeakRSS(b *testing.B, test string, env []string, idle, evidence int64) {
	b.Helper()
	var peak int64
	for b.Loop() {
		p, _ := RunChild(b, test, env...)
		peak = max(peak, p)
	}
	b.ReportMetric(float64(peak)/float64(evidence), "peakRSS/evidence")
	b.ReportMetric(float64(peak-idle)/float64(evidence), "extraRSS/evidence")
	b.ReportMetric(float64(peak)/(1<<20), "peakRSS-MiB")
	b.ReportMetric(float64(idle)/(1<<20), "idleRSS-MiB")
}
