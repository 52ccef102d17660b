package verify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// memArtifacts is an in-memory artifact store for tests: the bytes it holds
// at each path, returned whatever hash is asked for, so that the engine's
// own hash check is tested too.
type memArtifacts map[string][]byte

func (m memArtifacts) Artifact(_ context.Context, path, _ string) ([]byte, error) {
	data, ok := m[path]
	if !ok {
		return nil, fmt.Errorf("no artifact %s: %w", path, fs.ErrNotExist)
	}
	return data, nil
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Reports the scan step may produce.
var (
	cleanReport    = []byte(`{"vulnerabilities":[{"id":"CVE-2026-0001","severity":"LOW"},{"id":"CVE-2026-0002","severity":"HIGH"}]}`)
	criticalReport = []byte(`{"vulnerabilities":[{"id":"CVE-2026-0001","severity":"LOW"},{"id":"CVE-2026-0666","severity":"CRITICAL"}]}`)
)

const noCritical = `input.vulnerabilities.all(v, v.severity != "CRITICAL")`

// imageDigest is the image the motivating chain's build step pushed.
var imageDigest = "sha256:" + sum([]byte("the image manifest"))

// scanChain is the motivating supply chain: clone → build (which also
// pushes the image) → scan, whose product vulnerability-report.json an
// inspection reads, with real keys and real sha256 hashes.
type scanChain struct {
	*chain
	src, app []byte
}

func newScanChain(t *testing.T, run []string) *scanChain {
	t.Helper()
	c := &scanChain{chain: newChain(t, "alice", "bob", "carol", "dave"), src: []byte("package main"), app: []byte("app tarball")}
	c.step("clone", 1, []string{"alice"}, nil, rules(t, "CREATE src/main.go", "DISALLOW *"))
	c.step("build", 1, []string{"bob"}, rules(t, "MATCH src/* WITH PRODUCTS FROM clone", "DISALLOW *"), rules(t, "CREATE app.tar", "CREATE "+attest.ImageArtifact, "DISALLOW *"))
	c.step("scan", 1, []string{"carol"}, rules(t, "MATCH app.tar WITH PRODUCTS FROM build", "DISALLOW *"), rules(t, "CREATE vulnerability-report.json", "DISALLOW *"))
	c.layout.Inspect = []attest.Inspection{{
		Name:              "verify-no-critical-vulns",
		Run:               run,
		ExpectedMaterials: rules(t, "MATCH vulnerability-report.json WITH PRODUCTS FROM scan", "DISALLOW *"),
		ExpectedProducts:  rules(t, "ALLOW *"),
	}}
	return c
}

// realLink signs a link of step by who recording real sha256 hashes.
func (c *scanChain) realLink(step, who string, materials, products map[string][]byte) verify.Evidence {
	c.t.Helper()
	hashes := func(m map[string][]byte) map[string]attest.HashObj {
		out := map[string]attest.HashObj{}
		for p, data := range m {
			out[p] = attest.HashObj{"sha256": sum(data)}
		}
		return out
	}
	l := &attest.Link{Name: step, Materials: hashes(materials), Products: hashes(products), Command: []string{"true"}}
	if step == "build" {
		l.Products[attest.ImageArtifact] = attest.HashObj{"sha256": strings.TrimPrefix(imageDigest, "sha256:")}
	}
	payload, err := l.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, c.keys[who])
	if err != nil {
		c.t.Fatal(err)
	}
	return verify.Evidence{Source: step + ".link", Envelope: env}
}

// links are the chain's links, the scan recording report.
func (c *scanChain) links(report []byte) []verify.Evidence {
	return []verify.Evidence{
		c.realLink("clone", "alice", nil, map[string][]byte{"src/main.go": c.src}),
		c.realLink("build", "bob", map[string][]byte{"src/main.go": c.src}, map[string][]byte{"app.tar": c.app}),
		c.realLink("scan", "carol", map[string][]byte{"app.tar": c.app}, map[string][]byte{"vulnerability-report.json": report}),
	}
}

func (c *scanChain) verify(links []verify.Evidence, o verify.Options) (*verify.Report, error) {
	c.t.Helper()
	o.LayoutKeys = []*attest.Key{c.owner.Key()}
	if o.ImageDigest == "-" {
		o.ImageDigest = ""
	} else if o.ImageDigest == "" {
		o.ImageDigest = imageDigest
	}
	return verify.Verify(context.Background(), c.layoutEvidence(), links, o)
}

// countingInspector fails the test if the engine asks it to run anything.
type countingInspector struct{ t *testing.T }

func (ci countingInspector) Inspect(_ context.Context, in attest.Inspection) (*attest.Link, error) {
	ci.t.Errorf("inspection %q was run as a command", in.Name)
	return nil, fmt.Errorf("not to be run")
}

func checkRun(expr string, files ...string) []string {
	return append([]string{"referee", "check", "--cel", expr}, files...)
}

// TestNativeCheckOfTheScanReport: the motivating chain's inspection, a
// native check, is evaluated in-process over the report the scan link
// records, with no inspector and nothing run, and fails closed.
func TestNativeCheckOfTheScanReport(t *testing.T) {
	for _, tc := range []struct {
		name      string
		run       []string
		recorded  []byte           // the report the scan link records
		store     memArtifacts     // the artifacts available
		inspector verify.Inspector // nil: none
		local     bool             // no image digest
		want      []string         // fragments of the first failure; nil: verified
	}{
		{name: "clean", recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport}},
		{name: "clean with an inspector that must not run", recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport}, inspector: countingInspector{t}},
		{name: "clean, local verification", recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport}, local: true},
		{name: "path written ./", run: checkRun(noCritical, "./vulnerability-report.json"), recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport}},
		{name: "run as /usr/local/bin/referee", run: append([]string{"/usr/local/bin/referee"}, checkRun(noCritical, "vulnerability-report.json")[1:]...), recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport}},
		{name: "critical", recorded: criticalReport, store: memArtifacts{"vulnerability-report.json": criticalReport},
			want: []string{`inspection "verify-no-critical-vulns"`, `artifact "vulnerability-report.json"`, "is false", "CRITICAL"}},
		{name: "critical with an inspector that must not run", recorded: criticalReport, store: memArtifacts{"vulnerability-report.json": criticalReport}, inspector: countingInspector{t},
			want: []string{`inspection "verify-no-critical-vulns"`, "is false"}},
		{name: "missing", recorded: cleanReport, store: memArtifacts{},
			want: []string{`inspection "verify-no-critical-vulns"`, `"vulnerability-report.json" is recorded by step "scan" but not available`, "referee attach IMAGE vulnerability-report.json"}},
		{name: "missing, local verification", recorded: cleanReport, store: memArtifacts{}, local: true,
			want: []string{`"vulnerability-report.json" is recorded by step "scan" but not available`}},
		{name: "no artifacts at all", recorded: cleanReport,
			want: []string{`"vulnerability-report.json" is recorded by step "scan" but not available: no artifacts were given`}},
		{name: "bytes differ from the link's hash", recorded: criticalReport, store: memArtifacts{"vulnerability-report.json": cleanReport},
			want: []string{`inspection "verify-no-critical-vulns"`, "not available: its bytes hash to sha256 " + sum(cleanReport)[:12], "not to the " + sum(criticalReport)[:12]}},
		{name: "CEL error", run: checkRun(`input.vulns.all(v, v.severity != "CRITICAL")`, "vulnerability-report.json"), recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport},
			want: []string{`inspection "verify-no-critical-vulns"`, "failed", "no such key: vulns"}},
		{name: "CEL does not compile", run: checkRun(`input.vulnerabilities.all(v, `, "vulnerability-report.json"), recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport},
			want: []string{`inspection "verify-no-critical-vulns"`}},
		{name: "not JSON", recorded: []byte("CVE-2026-0666 CRITICAL"), store: memArtifacts{"vulnerability-report.json": []byte("CVE-2026-0666 CRITICAL")},
			want: []string{`inspection "verify-no-critical-vulns"`, "not JSON"}},
		{name: "a file no link records", run: checkRun(noCritical, "vulnerability-report.json", "other.json"), recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport, "other.json": cleanReport},
			want: []string{`inspection "verify-no-critical-vulns"`, `"other.json" is not an artifact a verified link records`}},
		{name: "a file outside", run: checkRun(noCritical, "../vulnerability-report.json"), recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport, "../vulnerability-report.json": cleanReport},
			want: []string{`"../vulnerability-report.json" is not an artifact a verified link records`}},
		{name: "an artifact the rules disallow", recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport, "app.tar": []byte("app tarball")},
			want: []string{`inspection "verify-no-critical-vulns"`, `rule "DISALLOW *"`, `"app.tar" is disallowed`}},
		{name: "malformed check", run: []string{"referee", "check", "--cel", noCritical, "--bogus", "vulnerability-report.json"}, recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport}, inspector: countingInspector{t},
			want: []string{`inspection "verify-no-critical-vulns"`, "unknown flag --bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := tc.run
			if run == nil {
				run = checkRun(noCritical, "vulnerability-report.json")
			}
			c := newScanChain(t, run)
			o := verify.Options{Inspector: tc.inspector}
			if tc.store != nil {
				o.Artifacts = tc.store
			}
			if tc.local {
				o.ImageDigest = "-"
			}
			r, err := c.verify(c.links(tc.recorded), o)
			if tc.want == nil {
				wantPass(t, r, err)
				ins := r.Inspections[0]
				if !ins.Passed || len(ins.Checks) != 1 || !ins.Checks[0].Passed || ins.Checks[0].File != run[len(run)-1] || !strings.Contains(ins.Checks[0].Reason, "is true") {
					t.Fatalf("inspection report %+v", ins)
				}
				if len(ins.Rules) != 3 || !ins.Rules[0].Passed || ins.Rules[0].Consumed != 1 {
					t.Errorf("the inspection's rules did not see the report as its material: %+v", ins.Rules)
				}
				if text := reportText(r); !strings.Contains(text, "inspection verify-no-critical-vulns: ok\n  check file "+run[len(run)-1]+": passed: ") {
					t.Errorf("report:\n%s", text)
				}
				return
			}
			wantFail(t, r, err, tc.want...)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("failure is not one line: %q", err)
			}
			if len(r.Inspections) != 1 || r.Inspections[0].Passed {
				t.Errorf("inspection report %+v", r.Inspections)
			}
			if tc.name == "missing, local verification" && strings.Contains(err.Error(), "referee attach") {
				t.Errorf("local verification suggests attaching: %v", err)
			}
		})
	}
}

// TestNativeCheckReportNamesTheEntry: the report of a failed check says
// which entry decided, on one line under the inspection.
func TestNativeCheckReportNamesTheEntry(t *testing.T) {
	c := newScanChain(t, checkRun(noCritical, "vulnerability-report.json"))
	r, err := c.verify(c.links(criticalReport), verify.Options{Artifacts: memArtifacts{"vulnerability-report.json": criticalReport}})
	wantFail(t, r, err, "CVE-2026-0666")
	text := reportText(r)
	line := ""
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "  check file vulnerability-report.json: FAILED: ") {
			line = l
		}
	}
	if !strings.Contains(line, "CVE-2026-0666") || !strings.Contains(text, "inspection verify-no-critical-vulns: FAILED\n") {
		t.Errorf("report does not show the deciding entry under the inspection:\n%s", text)
	}
}

// TestInspectionsFollowTheChosenLinks: with two scan links recording
// different reports, an inspection, native or a command, sees the report
// of the links under which everything holds; each artifact is read once.
func TestInspectionsFollowTheChosenLinks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		run       []string
		inspector verify.Inspector
	}{
		{"native", checkRun(noCritical, "vulnerability-report.json"), nil},
		{"python3", []string{"python3", "-c", pythonCheck}, &verify.ArtifactInspector{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.inspector != nil {
				if _, err := exec.LookPath("python3"); err != nil {
					t.Skip("no python3")
				}
			}
			c := newScanChain(t, tc.run)
			critical := c.links(criticalReport)
			clean := c.links(cleanReport)
			store := &countingStore{m: memArtifacts{"vulnerability-report.json": cleanReport, "app.tar": c.app}, n: map[string]int{}}
			c.layout.Inspect[0].ExpectedMaterials = rules(t, "MATCH vulnerability-report.json WITH PRODUCTS FROM scan", "MATCH app.tar WITH PRODUCTS FROM build", "DISALLOW *")
			r, err := c.verify(append(critical, clean[2]), verify.Options{Artifacts: store, Inspector: tc.inspector})
			wantPass(t, r, err)
			if r.Steps[2].Used[0].Source != clean[2].Source {
				t.Errorf("used %+v", r.Steps[2].Used)
			}
			for k, n := range store.n {
				if n != 1 && tc.inspector == nil {
					t.Errorf("%s read %d times, want once", k, n)
				}
			}
			if len(store.n) != 4 {
				t.Errorf("reads %v: want src/main.go, app.tar and both reports", store.n)
			}
		})
	}
}

// countingStore counts the reads of each path.
type countingStore struct {
	mu sync.Mutex
	m  memArtifacts
	n  map[string]int
}

func (s *countingStore) Artifact(ctx context.Context, path, hash string) ([]byte, error) {
	s.mu.Lock()
	s.n[path+"@"+hash[:8]]++
	s.mu.Unlock()
	return s.m.Artifact(ctx, path, hash)
}

// TestDirArtifacts reads a directory's files by recorded path and hash,
// and nothing outside it.
func TestDirArtifacts(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "work")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p string, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "vulnerability-report.json"), cleanReport)
	write(filepath.Join(dir, "sub", "a.json"), cleanReport)
	write(filepath.Join(top, "secret"), cleanReport)
	for _, l := range []struct{ name, target string }{{"out", "../secret"}, {"abs", filepath.Join(top, "secret")}, {"in", "vulnerability-report.json"}} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	a := verify.DirArtifacts(dir)
	ctx := context.Background()
	for _, tc := range []struct {
		path, hash string
		ok         bool
	}{
		{"vulnerability-report.json", sum(cleanReport), true},
		{"sub/a.json", sum(cleanReport), true},
		{"in", sum(cleanReport), true},
		{"vulnerability-report.json", sum(criticalReport), false},
		{"../secret", sum(cleanReport), false},
		{"sub/../../secret", sum(cleanReport), false},
		{"out", sum(cleanReport), false},
		{"abs", sum(cleanReport), false},
		{filepath.Join(top, "secret"), sum(cleanReport), false},
		{"sub", sum(cleanReport), false},
		{"nothing", sum(cleanReport), false},
	} {
		data, err := a.Artifact(ctx, tc.path, tc.hash)
		switch {
		case tc.ok && (err != nil || string(data) != string(cleanReport)):
			t.Errorf("%s: %q, %v", tc.path, data, err)
		case !tc.ok && err == nil:
			t.Errorf("%s: read %q, want an error", tc.path, data)
		}
	}
	if _, err := a.Artifact(ctx, "vulnerability-report.json", sum(criticalReport)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a hash mismatch is %v, want fs.ErrNotExist", err)
	}

	// Local verification of the chain with the directory as the store.
	c := newScanChain(t, checkRun(noCritical, "vulnerability-report.json"))
	// sub/a.json and the symlinks are there but no link records them:
	// they are not the inspection's materials.
	r, err := c.verify(c.links(cleanReport), verify.Options{Artifacts: verify.DirArtifacts(dir), ImageDigest: "-"})
	wantPass(t, r, err)
	if m := r.Inspections[0].Rules[0]; m.Consumed != 1 {
		t.Errorf("rules %+v", r.Inspections[0].Rules)
	}
	r, err = c.verify(c.links(criticalReport), verify.Options{Artifacts: verify.DirArtifacts(dir), ImageDigest: "-"})
	wantFail(t, r, err, "not available: artifact vulnerability-report.json in "+dir+" hashes to sha256 "+sum(cleanReport)[:12])
}

// pythonCheck is the motivating example's command inspection.
const pythonCheck = `import json, sys
r = json.load(open("vulnerability-report.json"))
bad = [v["id"] for v in r["vulnerabilities"] if v["severity"] == "CRITICAL"]
open("inspected", "w").write("yes")
if bad:
    print("CRITICAL:", ", ".join(bad), file=sys.stderr)
    sys.exit(1)`

// TestCommandInspectionFromArtifacts: the same chain with a python3 -c
// inspection, run by ArtifactInspector in a fresh directory holding
// exactly the available artifacts, removed afterwards; the working
// directory is untouched.
func TestCommandInspectionFromArtifacts(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	wd := t.TempDir()
	if err := os.WriteFile(filepath.Join(wd, "vulnerability-report.json"), criticalReport, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(wd)
	before := listDir(t, wd)
	for _, tc := range []struct {
		name     string
		recorded []byte
		store    memArtifacts
		want     []string
		stderr   string
	}{
		{name: "clean", recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport}},
		{name: "critical", recorded: criticalReport, store: memArtifacts{"vulnerability-report.json": criticalReport},
			want: []string{`inspection "verify-no-critical-vulns"`, "exited with 1", "CRITICAL: CVE-2026-0666"}},
		{name: "missing", recorded: cleanReport, store: memArtifacts{},
			want: []string{`inspection "verify-no-critical-vulns"`, "exited with 1"}, stderr: "No such file or directory: 'vulnerability-report.json'"},
		{name: "bytes differ from the link's hash", recorded: criticalReport, store: memArtifacts{"vulnerability-report.json": cleanReport},
			want: []string{`inspection "verify-no-critical-vulns"`, "exited with 1"}, stderr: "No such file or directory: 'vulnerability-report.json'"},
		{name: "an artifact the rules disallow", recorded: cleanReport, store: memArtifacts{"vulnerability-report.json": cleanReport, "app.tar": []byte("app tarball")},
			want: []string{`inspection "verify-no-critical-vulns"`, `"app.tar" is disallowed`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newScanChain(t, []string{"python3", "-c", pythonCheck})
			tmp := t.TempDir()
			r, err := c.verify(c.links(tc.recorded), verify.Options{Artifacts: tc.store, Inspector: &verify.ArtifactInspector{TempDir: tmp}})
			if tc.want == nil {
				wantPass(t, r, err)
				if len(r.Inspections) != 1 || len(r.Inspections[0].Rules) != 3 || r.Inspections[0].Rules[0].Consumed != 1 {
					t.Errorf("inspection %+v", r.Inspections)
				}
			} else {
				wantFail(t, r, err, tc.want...)
			}
			if tc.stderr != "" && (r.Failures[0].Command == nil || !strings.Contains(r.Failures[0].Command.Stderr, tc.stderr)) {
				t.Errorf("failure %+v: want stderr with %q", r.Failures[0], tc.stderr)
			}
			if left := listDir(t, tmp); len(left) != 0 {
				t.Errorf("the inspection's directory was left behind: %q", left)
			}
		})
	}
	if after := listDir(t, wd); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the working directory changed:\nbefore %q\nafter  %q", before, after)
	}
}

// TestArtifactInspectorRecordsItsDirectory: the link records exactly the
// staged artifacts as materials, and what the command left as products;
// paths that are not clean are refused.
func TestArtifactInspectorRecordsItsDirectory(t *testing.T) {
	ctx := context.Background()
	ai := &verify.ArtifactInspector{TempDir: t.TempDir()}
	store := memArtifacts{"a/b.json": cleanReport, "c": []byte("c")}
	staged := []verify.StagedArtifact{
		{Path: "a/b.json", Step: "scan", Hash: attest.HashObj{"sha256": sum(cleanReport)}},
		{Path: "c", Step: "build", Hash: attest.HashObj{"sha256": sum([]byte("c"))}},
	}
	link, err := ai.InspectArtifacts(ctx, attest.Inspection{Name: "i", Run: []string{"sh", "-c", "pwd > where && cat a/b.json > copy"}}, staged, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(link.Materials) != 2 || link.Materials["a/b.json"]["sha256"] != sum(cleanReport) || link.Materials["c"]["sha256"] != sum([]byte("c")) {
		t.Errorf("materials %v", link.Materials)
	}
	if len(link.Products) != 4 || link.Products["copy"]["sha256"] != sum(cleanReport) || link.Products["where"] == nil {
		t.Errorf("products %v", link.Products)
	}
	for _, p := range []string{"../x", "/etc/x", "a/../c", "./c", "a//b", "", ".", `a\b`} {
		_, err := ai.InspectArtifacts(ctx, attest.Inspection{Name: "i", Run: []string{"true"}}, []verify.StagedArtifact{{Path: p, Step: "s", Hash: attest.HashObj{"sha256": sum([]byte("c"))}}}, memArtifacts{p: []byte("c")})
		if err == nil || !strings.Contains(err.Error(), "not a clean relative path") {
			t.Errorf("path %q: %v", p, err)
		}
	}
	if left := listDir(t, ai.TempDir); len(left) != 0 {
		t.Errorf("left behind: %q", left)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSublayoutNativeCheckNeverEvaluated: a native check in a sublayout is
// not evaluated either; the sublayout fails, naming it.
func TestSublayoutNativeCheckNeverEvaluated(t *testing.T) {
	c := twoSteps(t)
	carol := mustKey(t)
	sub := newChain(t)
	sub.owner = c.keys["bob"]
	sub.keys["carol"] = carol
	sub.layout.Keys[carol.Key().KeyID] = carol.Key()
	sub.step("compile", 1, []string{"carol"}, nil, rules(t, "CREATE app"))
	sub.layout.Inspect = []attest.Inspection{{Name: "vouch", Run: checkRun("true", "app")}}
	src := arts{"src/main.go": "package main"}
	subEv := sub.layoutEvidence(c.keys["bob"])
	subEv.Source, subEv.StepHint = "build.sublayout", "build"
	subEv.Sub = []verify.Evidence{sub.link("compile", "carol", src, arts{"app": "b"})}
	r, err := verify.Verify(context.Background(), c.layoutEvidence(), []verify.Evidence{c.link("checkout", "alice", nil, src), subEv},
		verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}, Artifacts: memArtifacts{"app": []byte("b")}})
	wantFail(t, r, err, `step "build"`, "sublayout does not verify", `inspection "vouch"`, "never run", "not even a referee check")
}
