//go:build integration

package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeRuns runs README.md's sh blocks, in order, in one bash
// session, as a reader would paste them: referee (the binary under test)
// and crane on PATH, in a fresh directory. The first block (the two set-up
// commands of the repository) and the `go install`/`export PATH` lines
// that put referee on PATH are the test's own doing; the registry port
// 5000 becomes a free one. Every line of the README's text blocks (the
// sample outputs) must appear in what the commands printed, with digests,
// keyids and times matched by shape.
func TestReadmeRuns(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(filepath.Dir(confDir), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(sh|text)\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 5 || blocks[0][1] != "sh" || !strings.Contains(blocks[0][2], "go run . demo") {
		t.Fatalf("README.md: expected the set-up block first, found %d blocks", len(blocks))
	}
	work := t.TempDir()
	bin := t.TempDir()
	for name, path := range map[string]string{"referee": refereeBin, "crane": tool(t, "crane")} {
		if err := os.Symlink(path, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	port := strconv.Itoa(freePort(t))
	var script strings.Builder
	script.WriteString("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n")
	var samples []string
	for _, b := range blocks[1:] {
		if b[1] == "text" {
			if strings.Contains(b[2], "go test ./") {
				continue // the benchmark commands of the development section
			}
			samples = append(samples, strings.Split(strings.TrimSpace(b[2]), "\n")...)
			continue
		}
		for _, line := range strings.Split(b[2], "\n") {
			if strings.HasPrefix(line, "go install ") || strings.HasPrefix(line, "export PATH=") {
				continue
			}
			line = strings.ReplaceAll(line, "/tmp/referee-try", work)
			line = strings.ReplaceAll(line, "127.0.0.1:5000", "127.0.0.1:"+port)
			script.WriteString(line + "\n")
		}
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = work
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+home, "DOCKER_CONFIG="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README commands failed: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		got[shape(strings.ReplaceAll(l, "127.0.0.1:"+port, "127.0.0.1:5000"))] = true
	}
	for _, s := range samples {
		if !got[shape(s)] {
			t.Errorf("README sample line not printed by the commands:\n  %s", s)
		}
	}
	if t.Failed() {
		t.Logf("what the commands printed:\n%s", out)
	}
}

var (
	hexRun = regexp.MustCompile(`[0-9a-f]{8,64}`)
	stamp  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
)

// shape replaces what differs between runs (digests, keyids, times, and
// so which referrer a tree draws last) by placeholders.
func shape(s string) string {
	s = strings.ReplaceAll(strings.TrimRight(s, " "), "└── ", "├── ")
	return hexRun.ReplaceAllString(stamp.ReplaceAllString(s, "TIME"), "HEX")
}
