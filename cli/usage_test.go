package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// goSpeak matches what a message must never show a user: Go package
// qualified names, type names and struct tags.
var goSpeak = regexp.MustCompile(`\b(attest|oci|verify|cli|option|name|json|promote|layoutref|remote|errdef|securesystemslib)\.[A-Za-z]|\bstruct\b|\bin type\b|\*[a-z]+\.[A-Z]|panic|goroutine`)

// checkOneLine fails unless stderr is exactly one line of user words.
func checkOneLine(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line:\n%s", stderr)
	}
	if m := goSpeak.FindString(stderr); m != "" {
		t.Errorf("stderr speaks Go (%q): %s", m, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "precious"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"misspelt command", []string{"verfy"}, []string{`"verfy" is not a command of referee`, `did you mean "verify"`}},
		{"misspelt subcommand", []string{"layout", "creat"}, []string{`"creat" is not a command of referee layout`, `"create"`}},
		{"unknown command", []string{"xyzzy"}, []string{`"xyzzy" is not a command`, "referee --help"}},
		{"group without subcommand", []string{"layout"}, []string{"referee layout needs a subcommand"}},
		{"missing --spec names the whole command", []string{"layout", "create", "--key", "k"}, []string{"--spec is required (see referee layout create --help)"}},
		{"missing --out", []string{"pull", "localhost:1/x:y"}, []string{"--out is required (see referee pull --help)"}},
		{"wrong arg count", []string{"discover"}, []string{"referee discover takes one IMAGE"}},
		{"bad format", []string{"key", "id", "--format", "xml", "x"}, []string{`--format "xml": want text or json`}},
		{"registry root that cannot be made", []string{"registry", "serve", "--addr", "127.0.0.1:0", "--root", "/proc/nope"}, []string{"/proc/nope"}},
		{"registry on all interfaces", []string{"registry", "serve", "--addr", ":5000"}, []string{"every interface", "--allow-remote"}},
		{"remote registry without TLS and users", []string{"registry", "serve", "--addr", "0.0.0.0:0", "--allow-remote", "--tls-cert", "c.pem"}, []string{"needs --tls-key, --htpasswd"}},
		{"demo into a full directory", []string{"demo", "--keep", full}, []string{full, "not empty", "--force"}},
		{"run without a command", []string{"run", "-n", "x", "-k", "nope"}, []string{"nope"}},
		{"bind-image without attach", []string{"run", "-n", "x", "-k", "nope", "--bind-image", "--", "true"}, []string{"--bind-image needs --attach"}},
		{"completion for an unknown shell", []string{"completion", "tcsh"}, []string{`"tcsh": want bash, zsh or fish`}},
		{"detach a non-digest", []string{"detach", "localhost:1/x:y", "latest"}, []string{`"latest" is not a digest`}},
		{"login without password-stdin", []string{"login", "localhost:1", "-u", "me"}, []string{"--password-stdin is required"}},
		{"unknown flag", []string{"verify", "--bogus"}, []string{"bogus"}},
		{"negative limit", []string{"discover", "--max-blob-size", "0", "localhost:1/x:y"}, []string{"--max-blob-size must be a positive"}},
		{"short artifact type", []string{"discover", "--artifact-type", "layout", "x/y:z"}, []string{`--artifact-type "layout": give a media type`}},
		{"misspelt flag", []string{"verify", "--layout-kye", "k", "x/y:z"}, []string{"referee verify has no flag --layout-kye", "did you mean --layout-key?"}},
		{"duration that is not one", []string{"discover", "--timeout", "abc", "x/y:z"}, []string{`--timeout "abc" is not a duration`}},
		{"value flag last", []string{"verify", "localhost:1/x:y", "--layout-key"}, []string{"--layout-key needs a value"}},
		{"login to a repository", []string{"login", "localhost:1/app", "-u", "me", "--password-stdin"}, []string{"HOST[:PORT]", "per registry"}},
		{"login with a scheme", []string{"logout", "https://localhost:1"}, []string{"without a scheme"}},
		{"demo registry without repository", []string{"demo", "--registry", "localhost:1"}, []string{"HOST[:PORT]/REPO"}},
		{"demo registry that does not answer", []string{"demo", "--registry", "127.0.0.1:1/demo", "--keep", filepath.Join(dir, "new")}, []string{"--registry", "127.0.0.1:1"}},
		{"negative summary age", []string{"verify", "x/y:z", "--vsa-key", "k", "--vsa-max-age", "-1s"}, []string{"k"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := referee(t, tc.args...)
			if code != cli.ExitError {
				t.Errorf("exit %d, want %d", code, cli.ExitError)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			if tc.name == "group without subcommand" {
				// The subcommands are listed first, then the one-line error.
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				stderr = lines[len(lines)-1] + "\n"
			}
			checkOneLine(t, stderr)
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("demo created --keep before finding the registry unreachable")
	}
	if b, err := os.ReadFile(filepath.Join(full, "precious")); err != nil || string(b) != "keep me" {
		t.Errorf("demo --keep touched an existing directory: %q %v", b, err)
	}
}

func TestNoCommand(t *testing.T) {
	code, stdout, stderr := referee(t)
	if code != cli.ExitError || stdout != "" {
		t.Fatalf("referee alone: exit %d, stdout %q", code, stdout)
	}
	for _, w := range []string{"COMMANDS", "verify", "no command given"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, stdout, _ := referee(t, args...)
		if code != cli.ExitOK || !strings.HasPrefix(stdout, "referee ") {
			t.Errorf("%v: exit %d %q", args, code, stdout)
		}
		if strings.Contains(stdout, "none") || strings.Contains(stdout, "unknown") {
			t.Errorf("%v: placeholder values: %q", args, stdout)
		}
	}
	code, stdout, _ := referee(t, "version", "--format", "json")
	var v struct{ Version, Go string }
	if code != cli.ExitOK || json.Unmarshal([]byte(stdout), &v) != nil || v.Version == "" || !strings.HasPrefix(v.Go, "go1.") {
		t.Fatalf("version --format json: %d %q", code, stdout)
	}
}

// TestEveryCommandHasHelpWithExample walks the command tree: every command
// answers --help on stdout, exit 0, with an example.
func TestEveryCommandHasHelpWithExample(t *testing.T) {
	tree := helpTree(t)
	for path, h := range tree {
		if path != "" && !strings.Contains(h.text, "Example") {
			t.Errorf("referee %s --help has no example:\n%s", path, h.text)
		}
	}
	if len(tree) < 25 {
		t.Errorf("walked only %d commands", len(tree))
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, stdout, stderr := referee(t, "completion", sh)
		if code != cli.ExitOK || !strings.Contains(stdout, "referee") {
			t.Errorf("completion %s: exit %d %s", sh, code, stderr)
		}
	}
	// urfave/cli reads the word being completed from os.Args.
	complete := func(args ...string) string {
		t.Helper()
		saved := os.Args
		defer func() { os.Args = saved }()
		os.Args = append([]string{"referee"}, args...)
		_, stdout, _ := referee(t, args...)
		return stdout
	}
	stdout := complete("--generate-bash-completion")
	for _, w := range []string{"verify", "attach", "detach", "login", "completion"} {
		if !regexp.MustCompile(`(?m)^` + w + `(:|$)`).MatchString(stdout) {
			t.Errorf("top-level candidates lack %s:\n%s", w, stdout)
		}
	}
	stdout = complete("layout", "--generate-bash-completion")
	if !strings.Contains(stdout, "create") || strings.Contains(stdout, "verify") {
		t.Errorf("layout candidates:\n%s", stdout)
	}
	stdout = complete("verify", "-", "--generate-bash-completion")
	if !strings.Contains(stdout, "--layout-key") {
		t.Errorf("verify flag candidates:\n%s", stdout)
	}
}
