package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli"
)

// cli runs referee in-process and returns the exit code and output. A panic
// fails the test instead of ending the binary.
func referee(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return refereeStdin(t, "", args...)
}

// refereeStdin is referee with stdin.
func refereeStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("referee %s panicked: %v", strings.Join(args, " "), r)
			}
		}()
		code = cli.Main(context.Background(), append([]string{"referee"}, args...), strings.NewReader(stdin), &out, &errb)
	}()
	return code, out.String(), errb.String()
}

// mustCLI runs referee and fails the test unless it exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := referee(t, args...)
	if code != cli.ExitOK {
		t.Fatalf("referee %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// chain is a supply chain made with the CLI in a temporary directory that
// is also the working directory: keys owner and alice, root.layout from
// testdata/cli/spec.yaml, and the links of both steps in links/.
type chain struct {
	dir, ownerID, aliceID string
}

func (c chain) path(p string) string { return filepath.Join(c.dir, p) }

func (c chain) link(step string) string {
	return filepath.Join(c.dir, "links", attest.LinkFileName(step, c.aliceID))
}

func newChain(t *testing.T) chain {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar")
	}
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	c := chain{dir: dir}
	c.ownerID = strings.TrimSpace(mustCLI(t, "keygen", "owner"))
	c.aliceID = strings.TrimSpace(mustCLI(t, "keygen", "--type", "ecdsa", "alice"))
	if len(c.ownerID) != 64 || len(c.aliceID) != 64 {
		t.Fatalf("keygen printed %q, %q", c.ownerID, c.aliceID)
	}
	copyFile(t, filepath.Join(testdata, "spec.yaml"), "spec.yaml")
	if err := os.Mkdir("links", 0o755); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "layout", "create", "--spec", "spec.yaml", "--key", "owner", "--out", "root.layout")
	mustCLI(t, "run", "-n", "write", "-k", "alice", "-d", "links", "-p", "foo.py", "--", "sh", "-c", "echo hello > foo.py")
	mustCLI(t, "run", "-n", "package", "-k", "alice", "-d", "links", "--metablock", "-m", "foo.py", "-p", "foo.py", "-p", "foo.tar", "--", "tar", "-cf", "foo.tar", "foo.py")
	return c
}

func TestCLIHappyPath(t *testing.T) {
	c := newChain(t)
	if got := strings.TrimSpace(mustCLI(t, "key", "id", "alice.pub")); got != c.aliceID {
		t.Fatalf("key id of one file: %q", got)
	}
	if got := strings.TrimSpace(mustCLI(t, "key", "id", "alice.pub", "alice")); got != c.aliceID+"  alice.pub\n"+c.aliceID+"  alice" {
		t.Fatalf("key id: %q", got)
	}
	out := mustCLI(t, "layout", "show", "root.layout")
	for _, want := range []string{"layout (dsse)", "step write: threshold 1 of [" + c.aliceID[:8] + "]", "step package:", "materials: MATCH foo.py WITH PRODUCTS FROM write"} {
		if !strings.Contains(out, want) {
			t.Errorf("layout show lacks %q:\n%s", want, out)
		}
	}
	out = mustCLI(t, "verify", "--layout", "root.layout", "--layout-key", "owner.pub", "--link-dir", "links", "--format", "json")
	var report struct {
		Verified bool `json:"verified"`
		Layout   struct {
			Signers []string `json:"signers"`
			Expires string   `json:"expires"`
		} `json:"layout"`
		Steps []struct {
			Name   string `json:"name"`
			Passed bool   `json:"passed"`
			Used   []struct {
				Source string   `json:"source"`
				KeyIDs []string `json:"keyids"`
			} `json:"used"`
			Rules []struct {
				Rule   string `json:"rule"`
				Passed bool   `json:"passed"`
			} `json:"rules"`
		} `json:"steps"`
		Failures []any `json:"failures"`
	}
	// One object: what was verified and the outcome, the report inside.
	var result struct {
		Layout   string          `json:"layout"`
		Verified bool            `json:"verified"`
		Report   json.RawMessage `json:"report"`
	}
	if err := json.Unmarshal([]byte(out), &result); err != nil || result.Layout != "root.layout" || !result.Verified {
		t.Fatalf("--format json: %v\n%s", err, out)
	}
	if err := json.Unmarshal(result.Report, &report); err != nil {
		t.Fatalf("--format json report: %v\n%s", err, out)
	}
	if !report.Verified || len(report.Failures) != 0 {
		t.Fatalf("not verified: %s", out)
	}
	if len(report.Layout.Signers) != 1 || report.Layout.Signers[0] != c.ownerID || report.Layout.Expires == "" {
		t.Fatalf("layout %+v", report.Layout)
	}
	if len(report.Steps) != 2 || report.Steps[0].Name != "write" || report.Steps[1].Name != "package" {
		t.Fatalf("steps %+v", report.Steps)
	}
	for _, s := range report.Steps {
		if !s.Passed || len(s.Used) != 1 || s.Used[0].Source != filepath.Join("links", attest.LinkFileName(s.Name, c.aliceID)) ||
			len(s.Used[0].KeyIDs) != 1 || s.Used[0].KeyIDs[0] != c.aliceID {
			t.Errorf("step %+v", s)
		}
		if len(s.Rules) == 0 {
			t.Errorf("step %s: no rules reported", s.Name)
		}
		for _, r := range s.Rules {
			if !r.Passed {
				t.Errorf("step %s rule %s failed", s.Name, r.Rule)
			}
		}
	}
	out = mustCLI(t, "verify", "--layout", "root.layout", "--layout-key", "owner.pub", "--link-dir", "links")
	if !strings.HasSuffix(out, "PASS: the supply chain verifies\n") {
		t.Fatalf("text report:\n%s", out)
	}
	// The links are the two envelope forms, as asked.
	for step, form := range map[string]attest.Form{"write": attest.FormDSSE, "package": attest.FormMetablock} {
		env, err := attest.ReadEnvelopeFile(c.link(step), attest.DefaultMaxFileSize)
		if err != nil || env.Form != form {
			t.Fatalf("%s: %v %v", step, env, err)
		}
	}
}

func TestCLIBadInput(t *testing.T) {
	dataDir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	testdata := func(name string) string { return filepath.Join(dataDir, name) }
	c := newChain(t)
	ownerKey := func() []byte { b, _ := os.ReadFile("owner"); return b }()

	// A link whose signature covers other bytes: the recorded hash of
	// foo.py is changed after signing.
	tamperedDir := c.path("tampered")
	if err := os.Mkdir(tamperedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	env, err := attest.ReadEnvelopeFile(c.link("write"), attest.DefaultMaxFileSize)
	if err != nil {
		t.Fatal(err)
	}
	link, err := attest.ParseLink(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	digest := link.Products["foo.py"]["sha256"]
	env.Payload = bytes.Replace(env.Payload, []byte(digest), []byte(strings.Repeat("0", len(digest))), 1)
	writeEnv(t, filepath.Join(tamperedDir, filepath.Base(c.link("write"))), env)
	copyFile(t, c.link("package"), filepath.Join(tamperedDir, filepath.Base(c.link("package"))))

	// An expired layout, signed by the owner.
	renv, err := attest.ReadEnvelopeFile("root.layout", attest.DefaultMaxFileSize)
	if err != nil {
		t.Fatal(err)
	}
	layout, err := attest.ParseLayout(renv.Payload)
	if err != nil {
		t.Fatal(err)
	}
	layout.Expires = "2001-01-01T00:00:00Z"
	payload, err := layout.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	owner, err := attest.LoadSigner("owner")
	if err != nil {
		t.Fatal(err)
	}
	expired, err := attest.SignPayload(attest.FormDSSE, payload, owner)
	if err != nil {
		t.Fatal(err)
	}
	writeEnv(t, "expired.layout", expired)

	// A link directory with an extra link of a step the layout does not name.
	extraDir := c.path("extra")
	if err := os.Mkdir(extraDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"write", "package"} {
		copyFile(t, c.link(s), filepath.Join(extraDir, filepath.Base(c.link(s))))
	}
	mustCLI(t, "run", "-n", "deploy", "-k", "alice", "-d", extraDir, "--", "true")
	// A link for a step the layout does not have is not used, and says so;
	// it does not make the chain fail (as in both references).
	out := mustCLI(t, "verify", "--layout", "root.layout", "--layout-key", "owner.pub", "--link-dir", extraDir)
	if !strings.Contains(out, attest.LinkFileName("deploy", c.aliceID)) || !strings.Contains(out, "PASS") {
		t.Errorf("link of an unknown step:\n%s", out)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		// stderr must name these (the file and the problem).
		want []string
		// outDir must be as it was: no output, partial or temporary, left.
		outDir string
	}{
		{"truncated layout",
			[]string{"verify", "--layout", testdata("truncated.layout"), "--layout-key", "owner.pub", "--link-dir", "links"},
			cli.ExitError, []string{"truncated.layout", "truncated"}, ""},
		{"deeply nested layout",
			[]string{"verify", "--layout", testdata("deep.layout"), "--layout-key", "owner.pub", "--link-dir", "links"},
			cli.ExitError, []string{"deep.layout", "nested deeper"}, ""},
		// A well-formed document of the wrong kind given as --layout is an
		// input error.
		{"link as layout",
			[]string{"verify", "--layout", c.link("write"), "--layout-key", "owner.pub", "--link-dir", "links"},
			cli.ExitError, []string{filepath.Base(c.link("write")), `"link" document, not a layout`}, ""},
		{"DSSE with wrong payloadType",
			[]string{"verify", "--layout", testdata("wrong-payloadtype.layout"), "--layout-key", "owner.pub", "--link-dir", "links"},
			cli.ExitError, []string{"wrong-payloadtype.layout", `payloadType is "application/json"`}, ""},
		{"layout show of wrong payloadType",
			[]string{"layout", "show", testdata("wrong-payloadtype.layout")},
			cli.ExitError, []string{"wrong-payloadtype.layout", "payloadType"}, ""},
		{"link signed over other bytes",
			[]string{"verify", "--layout", "root.layout", "--layout-key", "owner.pub", "--link-dir", tamperedDir},
			cli.ExitNotVerified, []string{filepath.Base(c.link("write")), "does not verify"}, ""},
		{"layout key of unknown type",
			[]string{"verify", "--layout", "root.layout", "--layout-key", testdata("unknown-keytype.pub"), "--link-dir", "links"},
			cli.ExitError, []string{"unknown-keytype.pub", `unknown key type: "dsa"`}, ""},
		{"functionary key of unknown type",
			[]string{"run", "-n", "write", "-k", testdata("unknown-keytype.pub"), "-d", c.path("out-run"), "--", "true"},
			cli.ExitError, []string{"unknown-keytype.pub", "unknown key type"}, c.path("out-run")},
		{"spec rule typo",
			[]string{"layout", "create", "--spec", testdata("spec-typo.yaml"), "--key", "owner", "--out", c.path("out-typo/root.layout")},
			cli.ExitError, []string{"spec-typo.yaml", `"MACTH foo.py WITH PRODUCTS FROM write"`, "unknown verb"}, c.path("out-typo")},
		{"spec names a missing key file",
			[]string{"layout", "create", "--spec", testdata("spec.yaml"), "--key", "owner", "--out", c.path("out-nokey/root.layout")},
			cli.ExitError, []string{"alice.pub", "no such file"}, c.path("out-nokey")},
		{"layout create over an existing file",
			[]string{"layout", "create", "--spec", "spec.yaml", "--key", "owner", "--out", "root.layout"},
			cli.ExitError, []string{"root.layout", "exists"}, c.dir},
		{"expired layout",
			[]string{"verify", "--layout", "expired.layout", "--layout-key", "owner.pub", "--link-dir", "links"},
			cli.ExitNotVerified, []string{"expired.layout", "expired at 2001-01-01T00:00:00Z"}, ""},
		{"layout signed by another key",
			[]string{"verify", "--layout", "root.layout", "--layout-key", "alice.pub", "--link-dir", "links"},
			cli.ExitNotVerified, []string{"root.layout", "no signature by key " + c.aliceID}, ""},
		{"missing --layout-key",
			[]string{"verify", "--layout", "root.layout", "--link-dir", "links"},
			cli.ExitError, []string{"--layout-key is required"}, ""},
		{"bad --format",
			[]string{"verify", "--layout", "root.layout", "--layout-key", "owner.pub", "--format", "xml"},
			cli.ExitError, []string{`--format "xml"`}, ""},
		{"keygen over existing keys",
			[]string{"keygen", "owner"},
			cli.ExitError, []string{"owner", "exists", "--force"}, c.dir},
		{"keygen unknown type",
			[]string{"keygen", "--type", "dsa", c.path("out-keygen/k")},
			cli.ExitError, []string{`"dsa"`}, c.path("out-keygen")},
		{"key id of a non-key file",
			[]string{"key", "id", testdata("notes.txt")},
			cli.ExitError, []string{"notes.txt", "not a PEM file or a securesystemslib JSON key"}, ""},
		{"key id of a missing file",
			[]string{"key", "id", c.path("nope.pub")},
			cli.ExitError, []string{"nope.pub", "no such file"}, ""},
		{"run of a missing command",
			[]string{"run", "-n", "write", "-k", "alice", "-d", c.path("out-cmd"), "--", "referee-no-such-command"},
			cli.ExitError, []string{`"referee-no-such-command"`, "not found"}, c.path("out-cmd")},
		{"sign a non-in-toto document",
			[]string{"sign", "-k", "owner", "--out", c.path("out-sign/x"), testdata("notes.txt")},
			cli.ExitError, []string{"notes.txt"}, c.path("out-sign")},
		{"unknown flag",
			[]string{"verify", "--bogus"},
			cli.ExitError, []string{"bogus"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.outDir != "" {
				if err := os.MkdirAll(tc.outDir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var before []string
			contents := map[string]string{}
			if tc.outDir != "" {
				before = listDir(t, tc.outDir)
				for _, n := range before {
					if b, err := os.ReadFile(filepath.Join(tc.outDir, n)); err == nil {
						contents[n] = string(b)
					}
				}
			}
			code, _, stderr := referee(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if !strings.HasPrefix(stderr, "referee: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
			if tc.outDir != "" {
				after := listDir(t, tc.outDir)
				if fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("%s held %q, now %q", tc.outDir, before, after)
				}
				for n, b := range contents {
					if now, _ := os.ReadFile(filepath.Join(tc.outDir, n)); string(now) != b {
						t.Errorf("%s changed", n)
					}
				}
			}
		})
	}
	if now, _ := os.ReadFile("owner"); !bytes.Equal(now, ownerKey) {
		t.Fatal("the owner key changed")
	}
}

func writeEnv(t *testing.T, path string, env *attest.Envelope) {
	t.Helper()
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
