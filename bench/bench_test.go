package main_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildBench builds the bench program into a temporary directory.
func buildBench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type benchRun struct {
	stdout, stderr string
	err            error
}

// runBench runs the bench with args (in this directory, inside the
// module, as `go run ./bench` does) and a fresh workload cache.
func runBench(t *testing.T, bin string, args ...string) benchRun {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--work", t.TempDir()}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return benchRun{out.String(), errOut.String(), err}
}

// goalRows returns the rows of the summary table whose goal starts with
// prefix.
func goalRows(out, prefix string) []string {
	_, summary, _ := strings.Cut(out, "### Goals")
	var rows []string
	for _, l := range strings.Split(summary, "\n") {
		if strings.HasPrefix(l, "| "+prefix) {
			rows = append(rows, l)
		}
	}
	return rows
}

func TestBadFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bench")
	}
	bin := buildBench(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--only", "engine,bogus"}, `unknown part "bogus"`},
		{[]string{"--runs", "0"}, "--runs must be at least 1"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runBench(t, bin, tc.args...)
			if r.err == nil || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want failure with %q, got %v\nstderr: %s\nstdout: %s", tc.want, r.err, r.stderr, r.stdout)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %s", r.stdout)
			}
		})
	}
}

// TestQuickRegistry runs the registry parts, which need no peer, at
// --quick sizes: chains of 5 and 50 links and 10 images, 20 ms away.
func TestQuickRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds referee and verifies images 20 ms away (about 20 s)")
	}
	r := runBench(t, buildBench(t), "--quick", "--runs", "1", "--only", "registry,many")
	if r.err != nil {
		t.Fatalf("bench: %v\n%s", r.err, r.stderr)
	}
	for _, want := range []string{"### 3. From the registry", "### 4. Many images", "| 5 | ", "| 50 | ", "`verify -` --parallel 1", "`verify -` default --parallel", "Load after: `",
		"| floor: listing + decoding + signatures | floor (round trips) |", "The floor is what no verifier of the same evidence can skip here"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if rows := goalRows(r.stdout, "3 registry"); len(rows) != 3 {
		t.Errorf("registry goals %q, want 3 (5 and 50 links, large links):\n%s", rows, r.stdout)
	}
	if !strings.Contains(r.stdout, "| 3 registry, links of 18,000 artifacts | verified with the default limits, or the refusal names the flag | verified | met |") {
		t.Errorf("links of 18,000 artifacts (2.4 MB) do not verify with the default limits:\n%s", r.stdout)
	}
	if rows := goalRows(r.stdout, "4 many images (10)"); len(rows) != 1 {
		t.Errorf("many-images goal %q, want 1:\n%s", rows, r.stdout)
	}
	if strings.Contains(r.stdout, "### 1.") || strings.Contains(r.stdout, "### 2.") {
		t.Errorf("--only registry,many ran other parts:\n%s", r.stdout)
	}
}
