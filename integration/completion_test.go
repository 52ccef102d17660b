//go:build integration

package integration_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// completionCase is what a shell offers for the words typed so far (the
// last one being completed).
type completionCase struct {
	words []string // after "referee"
	want  []string // all offered
	only  string   // every offer starts with this (empty: no check)
	exact bool     // want is everything offered
}

var completionCases = []completionCase{
	{words: []string{"ver"}, want: []string{"verify", "version"}, exact: true},
	{words: []string{"layout", ""}, want: []string{"create", "sign", "show"}},
	{words: []string{"key", ""}, want: []string{"id", "export"}},
	{words: []string{"verify", "--lay"}, want: []string{"--layout", "--layout-key"}, only: "--lay"},
	{words: []string{"de"}, want: []string{"demo", "detach"}, exact: true},
	{words: []string{"login", "--pass"}, want: []string{"--password-stdin"}, exact: true},
}

// completionEnv puts the referee binary first on PATH and gives the shell
// a HOME of its own.
func completionEnv(t *testing.T) runIO {
	t.Helper()
	home := t.TempDir()
	return runIO{dir: t.TempDir(), env: []string{
		"PATH=" + filepath.Dir(refereeBin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"ZDOTDIR=" + home,
	}}
}

func checkOffers(t *testing.T, shell string, tc completionCase, got []string) {
	t.Helper()
	sort.Strings(got)
	have := map[string]bool{}
	for _, g := range got {
		have[g] = true
	}
	for _, w := range tc.want {
		if !have[w] {
			t.Errorf("%s: referee %s<TAB> does not offer %s; offers %q", shell, strings.Join(tc.words, " "), w, got)
		}
	}
	if tc.exact && len(got) != len(tc.want) {
		t.Errorf("%s: referee %s<TAB> offers %q, want exactly %q", shell, strings.Join(tc.words, " "), got, tc.want)
	}
	for _, g := range got {
		if tc.only != "" && !strings.HasPrefix(g, tc.only) {
			t.Errorf("%s: referee %s<TAB> offers %q", shell, strings.Join(tc.words, " "), g)
		}
	}
}

// TestCompletionBash sources `referee completion bash` in a real bash with
// the binary on PATH, sets COMP_WORDS and COMP_CWORD as readline does and
// calls the function the script registered for referee.
func TestCompletionBash(t *testing.T) {
	bash := tool(t, "bash")
	env := completionEnv(t)
	const script = `source <(referee completion bash) || exit 3
spec=$(complete -p referee) || exit 4
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=(referee "$@"); COMP_CWORD=$#; COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$fn" referee "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
	for _, tc := range completionCases {
		r := exeIO(t, env, bash, append([]string{"-c", script, "bash"}, tc.words...)...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("bash completion:\n%s", r)
		}
		checkOffers(t, "bash", tc, strings.Fields(r.stdout))
	}
	// Where referee offers nothing, bash falls back to file names.
	r := exeIO(t, env, bash, "-c", `source <(referee completion bash) && complete -p referee`)
	if !strings.Contains(r.stdout, "-o default") {
		t.Errorf("the bash completion does not fall back to files:\n%s", r)
	}
}

// TestCompletionFish sources `referee completion fish` in fish and asks
// fish itself what it completes (complete -C), in an empty directory so
// that no file names mix in.
func TestCompletionFish(t *testing.T) {
	fish := tool(t, "fish")
	env := completionEnv(t)
	for _, tc := range completionCases {
		line := "referee " + strings.Join(tc.words, " ")
		r := exeIO(t, env, fish, "--no-config", "-c", `referee completion fish | source; or exit 3; complete -C $argv[1]`, line)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("fish completion:\n%s", r)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if w, _, _ := strings.Cut(l, "\t"); w != "" {
				got = append(got, w)
			}
		}
		checkOffers(t, "fish", tc, dedup(got))
	}
}

// TestCompletionZsh loads `referee completion zsh` after compinit, as
// ~/.zshrc would, and checks that it registers _referee for referee.
func TestCompletionZsh(t *testing.T) {
	zsh := tool(t, "zsh")
	env := completionEnv(t)
	r := exeIO(t, env, zsh, "-f", "-c", `autoload -U compinit && compinit -u && source <(referee completion zsh) || exit 3
print -r -- "$(whence -w _referee) $_comps[referee]"`)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("zsh does not load the completion:\n%s", r)
	}
	if got := strings.TrimSpace(r.stdout); got != "_referee: function _referee" {
		t.Errorf("zsh: after sourcing, %q; want _referee defined and registered for referee", got)
	}
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
