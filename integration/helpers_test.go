//go:build integration

// Package integration_test checks referee against the in-toto reference
// implementations, run live: the Python reference (Debian's in-toto 1.3.1:
// in-toto-run, in-toto-verify, in-toto-keygen, and its API through
// /usr/bin/python3) and in-toto-golang v0.11.0. Facts about the peers are in
// testdata/peers/NOTES.md. Run with
//
//	go test -tags integration -count=1 ./integration/...
//
// Every test skips when a peer tool it needs is not installed; .ci/run
// installs them, so in CI nothing skips.
package integration_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// python is the interpreter that has the in_toto package (Debian's); the
// python3 first on PATH may be another one.
const python = "/usr/bin/python3"

var (
	refereeBin string // built once by TestMain
	confDir    string // testdata/conformance, absolute
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "referee-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	_, file, _, _ := runtime.Caller(0)
	here := filepath.Dir(file)
	confDir = filepath.Join(here, "testdata", "conformance")
	refereeBin = filepath.Join(tmp, "referee")
	// Built as releases are (.goreleaser.yaml, release/pipeline.sh): static
	// and with trimmed paths, so that the release test's build of the same
	// source is a link from the build cache, not a second compile.
	build := exec.Command("go", "build", "-trimpath", "-o", refereeBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Dir = filepath.Dir(here) // the repository root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building referee:", err)
		return 1
	}
	return m.Run()
}

// tool finds a peer binary, skipping the test when it is not installed.
// in-toto-golang is also looked for in $(go env GOPATH)/bin and ~/go/bin,
// where `go install` puts it.
func tool(t *testing.T, name string) string {
	t.Helper()
	if name == python {
		if _, err := os.Stat(python); err != nil {
			t.Skipf("%s not installed", python)
		}
		return python
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Skipf("%s not installed (.ci/run installs it)", name)
	return ""
}

// peers holds the paths of the reference tools a test uses.
type peers struct {
	keygen, run, verify string // Python in-toto-*
	golang              string // in-toto-golang
}

// needPython skips unless the Python reference is installed.
func needPython(t *testing.T) peers {
	t.Helper()
	tool(t, python)
	return peers{keygen: tool(t, "in-toto-keygen"), run: tool(t, "in-toto-run"), verify: tool(t, "in-toto-verify")}
}

// needAll skips unless both references are installed.
func needAll(t *testing.T) peers {
	t.Helper()
	p := needPython(t)
	p.golang = tool(t, "in-toto-golang")
	return p
}

// result is the outcome of one command.
type result struct {
	cmd    string
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("$ %s\nexit %d\nstdout:\n%s\nstderr:\n%s", r.cmd, r.code, r.stdout, r.stderr)
}

// out is stdout and stderr together.
func (r result) out() string { return r.stdout + r.stderr }

// exe runs a command in dir and returns its outcome; only a failure to
// start it at all is fatal.
func exe(t *testing.T, dir, name string, args ...string) result {
	t.Helper()
	return exeIO(t, runIO{dir: dir}, name, args...)
}

// runIO is what exeIO gives a command besides its arguments.
type runIO struct {
	dir   string
	stdin string   // standard input (empty: none)
	env   []string // KEY=VALUE added to the test's environment
}

// exeIO is exe with standard input and extra environment variables.
func exeIO(t *testing.T, o runIO, name string, args ...string) result {
	t.Helper()
	dir := o.dir
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if o.stdin != "" {
		cmd.Stdin = strings.NewReader(o.stdin)
	}
	if len(o.env) > 0 {
		cmd.Env = append(os.Environ(), o.env...)
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("slow (%s): %s %s", d.Round(time.Millisecond), filepath.Base(name), shellJoin(args))
	}
	r := result{cmd: filepath.Base(name) + " " + shellJoin(args), stdout: so.String(), stderr: se.String()}
	if len(o.env) > 0 {
		r.cmd = strings.Join(o.env, " ") + " " + r.cmd
	}
	if dir != "" {
		r.cmd = "(cd " + dir + ") " + r.cmd
	}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", r.cmd, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// must runs a command that has to succeed.
func must(t *testing.T, dir, name string, args ...string) result {
	t.Helper()
	r := exe(t, dir, name, args...)
	if r.code != 0 {
		t.Fatalf("command failed:\n%s", r)
	}
	return r
}

// referee runs the referee binary built by TestMain.
func referee(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return exe(t, dir, refereeBin, args...)
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$*?[]#~;&|<>(){}") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// expectExit checks a command's exit code.
func expectExit(t *testing.T, r result, want int) {
	t.Helper()
	if r.code != want {
		t.Errorf("want exit %d, got:\n%s", want, r)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// pyKeyIDs asks the Python reference for the keyids of key files, given
// as KIND:PATH (see testdata/conformance/keyid.py). A key Python cannot
// read gives "ERROR: ...".
func pyKeyIDs(t *testing.T, specs ...string) []string {
	t.Helper()
	r := must(t, "", python, append([]string{filepath.Join(confDir, "keyid.py")}, specs...)...)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != len(specs) {
		t.Fatalf("keyid.py printed %d lines for %d keys:\n%s", len(lines), len(specs), r)
	}
	return lines
}

// refereeKeyID is `referee key id FILE`.
func refereeKeyID(t *testing.T, file string) string {
	t.Helper()
	r := must(t, "", refereeBin, "key", "id", file)
	return firstField(r.stdout)
}

func firstField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// linkFiles lists the *.link files of dir.
func linkFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.link"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// specYAML is a layout spec for `referee layout create`.
type specYAML struct {
	Functionaries map[string]string // name -> public key path
	Steps         []specStep
	Inspections   []specInspection
}

type specStep struct {
	Name          string
	Command       string
	Threshold     int
	Functionaries []string
	Materials     []string
	Products      []string
}

type specInspection struct {
	Name      string
	Run       string
	Materials []string
	Products  []string
}

// yq quotes a string for YAML (double-quoted scalar; JSON is valid YAML).
func yq(s string) string {
	return fmt.Sprintf("%q", s)
}

func (s specYAML) render() string {
	var b strings.Builder
	b.WriteString("expires: 1y\nreadme: referee integration test\nfunctionaries:\n")
	for n, p := range s.Functionaries {
		fmt.Fprintf(&b, "  %s: %s\n", n, yq(p))
	}
	rules := func(key string, rs []string) {
		if len(rs) == 0 {
			return
		}
		fmt.Fprintf(&b, "    %s:\n", key)
		for _, r := range rs {
			fmt.Fprintf(&b, "      - %s\n", yq(r))
		}
	}
	b.WriteString("steps:\n")
	for _, st := range s.Steps {
		fmt.Fprintf(&b, "  - name: %s\n", yq(st.Name))
		if st.Command != "" {
			fmt.Fprintf(&b, "    expected_command: %s\n", yq(st.Command))
		}
		if st.Threshold > 0 {
			fmt.Fprintf(&b, "    threshold: %d\n", st.Threshold)
		}
		fmt.Fprintf(&b, "    functionaries: [%s]\n", strings.Join(st.Functionaries, ", "))
		rules("expected_materials", st.Materials)
		rules("expected_products", st.Products)
	}
	if len(s.Inspections) > 0 {
		b.WriteString("inspections:\n")
		for _, in := range s.Inspections {
			fmt.Fprintf(&b, "  - name: %s\n    run: %s\n", yq(in.Name), yq(in.Run))
			rules("expected_materials", in.Materials)
			rules("expected_products", in.Products)
		}
	}
	return b.String()
}

// createLayout writes spec to dir/name.yaml and runs `referee layout
// create`, with --metablock when metablock is set.
func createLayout(t *testing.T, dir, name string, spec specYAML, out string, metablock bool, ownerKeys ...string) {
	t.Helper()
	specPath := filepath.Join(dir, name+".yaml")
	writeFile(t, specPath, spec.render())
	args := []string{"layout", "create", "--spec", specPath, "--out", out, "--force"}
	for _, k := range ownerKeys {
		args = append(args, "--key", k)
	}
	if metablock {
		args = append(args, "--metablock")
	}
	if r := referee(t, dir, args...); r.code != 0 {
		t.Fatalf("referee layout create:\n%s\nspec:\n%s", r, readFile(t, specPath))
	}
}
