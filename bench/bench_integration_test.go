//go:build integration

package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickAll runs every part at --quick sizes beside the peers: W1 of
// 2,000 and 200 files recorded by in-toto-golang and verified by it, the
// Python reference and referee; W2 hashed by referee, openssl and
// sha256sum; and the registry parts.
func TestQuickAll(t *testing.T) {
	for _, p := range []string{"in-toto-golang", "in-toto-verify", "openssl", "sha256sum", "xargs"} {
		if lookPeer(p) == "" {
			t.Skipf("%s is not installed (.ci/run installs the peers)", p)
		}
	}
	r := runBench(t, buildBench(t), "--quick", "--runs", "1")
	if r.err != nil {
		t.Fatalf("bench: %v\n%s", r.err, r.stderr)
	}
	// W1 at 2,000 files: clone records 2,000 files; format 2 x 2,000;
	// prune 2,000 and 1,900 (it deletes src/d019); build 1,900 and 1,902
	// (out/app.bin, out/VERSION); package 1,902 and 1,903 (dist/app.tar).
	for _, want := range []string{
		"| 2,000 files, 17,507 entries,", "| 200 files, 1,307 entries,",
		"in-toto-golang v0.11 `verify`", "in-toto Python 1.3 `in-toto-verify`", "referee `verify --layout … --link-dir …`",
		"| 8.4 MB in 100 files |", "| 2,000 files of 1 KiB |", "`openssl dgst -sha256`, 2 processes", "`sha256sum`, 2 processes",
		"### 3. From the registry", "### 4. Many images",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	for prefix, n := range map[string]int{"1 engine": 5, "2 hashing": 2, "3 registry": 3, "4 many images": 1} {
		if rows := goalRows(r.stdout, prefix); len(rows) != n {
			t.Errorf("%d %q goals, want %d: %q", len(rows), prefix, n, rows)
		}
	}
}

// lookPeer finds a peer as the bench does (PATH, then $(go env GOPATH)/bin).
func lookPeer(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
		if st, err := os.Stat(filepath.Join(gp, "bin", name)); err == nil && !st.IsDir() {
			return filepath.Join(gp, "bin", name)
		}
	}
	return ""
}
