//go:build integration

package integration_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestRegistryOCIConformance runs the OCI distribution-spec conformance
// suite against `referee registry serve`, in memory and with --root, and
// fails with the suite's list of failed tests. Two versions of the suite
// run, each pinned by a module of its own under testdata/ociconformance
// (built with the Go proxy and cached in the Go build cache, so referee's
// go.mod does not grow):
//
//   - ginkgo2023: the ginkgo suite of November 2023, the four workflows
//     (pull, push, content discovery, content management), with automatic
//     cross-repository mounting on, and both teardown orders;
//   - suite2026: the redesigned suite (sha256 and sha512 blobs, every upload
//     kind, ranges, mounts, cancelled uploads, images, indexes, referrers,
//     tag lists, deletes, bad digests), with the Docker-Content-Digest
//     headers required and upload cancel on.
//
// With --root all the runs share one root, and a registry restarted on it
// at the end must replay the journal they left (every push and delete).
func TestRegistryOCIConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the conformance suites")
	}
	bins := t.TempDir()
	ginkgo := buildConformance(t, "ginkgo2023", filepath.Join(bins, "conformance2023.test"), "test", "-c")
	suite := buildConformance(t, "suite2026", filepath.Join(bins, "conformance2026"), "build")

	for _, mode := range []string{"memory", "root"} {
		t.Run(mode, func(t *testing.T) {
			var extra []string
			if mode == "root" {
				// One root for all the runs: each registry starts on
				// what the runs before it left.
				extra = []string{"--root", t.TempDir()}
			}
			for _, order := range []string{"0", "1"} {
				t.Run("ginkgo2023/delete-manifest-before-blobs="+order, func(t *testing.T) {
					runGinkgo2023(t, ginkgo, startEmbeddedRegistry(t, extra...), order)
				})
			}
			t.Run("suite2026", func(t *testing.T) {
				runSuite2026(t, suite, startEmbeddedRegistry(t, extra...))
			})
			if mode == "root" {
				// Each registry above has stopped, freeing the root; one
				// more must replay the journal the suites left.
				startEmbeddedRegistry(t, extra...)
			}
		})
	}
}

// buildConformance builds the suite of testdata/ociconformance/<dir> (go
// test -c or go build of the conformance package) into out.
func buildConformance(t *testing.T, dir, out string, goArgs ...string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	mod := filepath.Join(filepath.Dir(file), "testdata", "ociconformance", dir)
	args := append(append([]string{}, goArgs...), "-o", out, "github.com/opencontainers/distribution-spec/conformance")
	cmd := exec.Command("go", args...)
	cmd.Dir = mod
	// -mod=mod: the module's go.sum may lack test-only sums; GOWORK=off:
	// the module stands alone.
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"), "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the conformance suite in %s: go %s: %v\n%s", mod, strings.Join(args, " "), err, b)
	}
	return out
}

// runConformance runs a suite binary with env in dir and returns its
// output and exit error; the suite's verdict is read from its junit report.
func runConformance(t *testing.T, bin, dir string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCI_") { // no stray settings of the caller's
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish in 3 minutes\n%s", filepath.Base(bin), tail(string(out), 4000))
	}
	return string(out), err
}

func runGinkgo2023(t *testing.T, bin, host, deleteManifestFirst string) {
	dir := t.TempDir()
	out, err := runConformance(t, bin, dir,
		"OCI_ROOT_URL=http://"+host,
		"OCI_NAMESPACE=conformance/ginkgo",
		"OCI_CROSSMOUNT_NAMESPACE=conformance/ginkgo-other",
		"OCI_TEST_PULL=1", "OCI_TEST_PUSH=1", "OCI_TEST_CONTENT_DISCOVERY=1", "OCI_TEST_CONTENT_MANAGEMENT=1",
		"OCI_AUTOMATIC_CROSSMOUNT=1",
		"OCI_DELETE_MANIFEST_BEFORE_BLOBS="+deleteManifestFirst,
		"OCI_HIDE_SKIPPED_WORKFLOWS=0", "OCI_DEBUG=0",
		"OCI_REPORT_DIR="+dir,
	)
	// Test names read "[It] OCI Distribution Conformance Tests <workflow> <context> ...".
	workflow := func(name string) string {
		_, rest, _ := strings.Cut(name, "Conformance Tests ")
		for _, w := range []string{"Pull", "Push", "Content Discovery", "Content Management"} {
			if strings.HasPrefix(rest, w+" ") {
				return w
			}
		}
		return "other"
	}
	checkJUnit(t, filepath.Join(dir, "junit.xml"), out, err, workflow, 74)
}

func runSuite2026(t *testing.T, bin, host string) {
	dir := t.TempDir()
	out, err := runConformance(t, bin, dir,
		"OCI_REGISTRY="+host,
		"OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_RESULTS_DIR="+dir,
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
	)
	// Test names read "OCI Conformance Test/<group>/...".
	workflow := func(name string) string {
		parts := strings.SplitN(name, "/", 3)
		if len(parts) < 2 {
			return name
		}
		return parts[1]
	}
	checkJUnit(t, filepath.Join(dir, "junit.xml"), out, err, workflow, 690)
}

// junitReport is what both suites write: suites of test cases, each with a
// failure, error or skipped element (ginkgo) or status attribute (the 2026
// suite, which puts the reason in system-out) when it did not pass.
type junitReport struct {
	Suites []struct {
		Cases []struct {
			Name      string     `xml:"name,attr"`
			Classname string     `xml:"classname,attr"`
			Status    string     `xml:"status,attr"` // the 2026 suite's verdict
			Failure   *junitText `xml:"failure"`
			Error     *junitText `xml:"error"`
			Skipped   *junitText `xml:"skipped"`
			SystemOut string     `xml:"system-out"` // the 2026 suite's reason
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type junitText struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// checkJUnit fails the test with every failed case of the report, if
// fewer than minPassed passed (a suite misconfigured into skipping), and if
// the suite failed (runErr) with no failed case; it logs the counts per
// workflow.
func checkJUnit(t *testing.T, path, out string, runErr error, workflow func(string) string, minPassed int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the suite wrote no report: %v\n%s", err, tail(out, 4000))
	}
	var rep junitReport
	if err := xml.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	type count struct{ passed, failed, skipped int }
	counts := map[string]*count{}
	var failures []string
	passed := 0
	for _, s := range rep.Suites {
		for _, c := range s.Cases {
			name := c.Name
			if c.Classname != "" && !strings.Contains(name, c.Classname) {
				name = c.Classname + "/" + name
			}
			w := workflow(name)
			if counts[w] == nil {
				counts[w] = &count{}
			}
			switch {
			case c.Failure != nil || c.Error != nil || c.Status == "failure" || c.Status == "error":
				counts[w].failed++
				var msg string
				for _, why := range []*junitText{c.Failure, c.Error} {
					if why != nil {
						msg = why.Message
						if msg == "" {
							msg = why.Text
						}
					}
				}
				if msg == "" {
					msg = c.SystemOut
				}
				failures = append(failures, fmt.Sprintf("%s: %s", name, tail(strings.TrimSpace(msg), 600)))
			case c.Skipped != nil || c.Status == "skipped":
				counts[w].skipped++
			default:
				counts[w].passed++
				passed++
			}
		}
	}
	var lines []string
	for w, c := range counts {
		lines = append(lines, fmt.Sprintf("%s: %d passed, %d failed, %d skipped", w, c.passed, c.failed, c.skipped))
	}
	sort.Strings(lines)
	t.Logf("conformance results:\n  %s", strings.Join(lines, "\n  "))
	if len(failures) > 0 {
		t.Errorf("%d conformance tests failed:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	if runErr != nil && len(failures) == 0 {
		t.Errorf("the suite failed (%v) with no failed test in its report\n%s", runErr, tail(out, 4000))
	}
	if passed < minPassed {
		t.Errorf("only %d conformance tests passed, want at least %d\n%s", passed, minPassed, tail(out, 4000))
	}
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
