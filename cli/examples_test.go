package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// commandHelp is one command's --help: its path, text, subcommands and
// flags (every name and alias).
type commandHelp struct {
	path  []string
	text  string
	subs  map[string]bool
	flags map[string]bool
}

var flagName = regexp.MustCompile(`(?:^|[\s,])(--?[a-zA-Z][a-zA-Z0-9-]*)`)

// helpTree reads --help of every command, recursively.
func helpTree(t *testing.T) map[string]*commandHelp {
	t.Helper()
	tree := map[string]*commandHelp{}
	var walk func(path []string)
	walk = func(path []string) {
		code, stdout, stderr := referee(t, append(append([]string{}, path...), "--help")...)
		if code != 0 || stdout == "" {
			t.Errorf("referee %s --help: exit %d %s", strings.Join(path, " "), code, stderr)
		}
		h := &commandHelp{path: path, text: stdout, subs: map[string]bool{}, flags: map[string]bool{"--help": true, "-h": true}}
		tree[strings.Join(path, " ")] = h
		if _, opts, ok := strings.Cut(stdout, "OPTIONS:\n"); ok {
			for _, line := range strings.Split(opts, "\n") {
				// "   --name value, -n value  usage": names come before
				// the usage's double space.
				names, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
				for _, m := range flagName.FindAllStringSubmatch(" "+names, -1) {
					h.flags[m[1]] = true
				}
			}
		}
		if _, rest, ok := strings.Cut(stdout, "COMMANDS:\n"); ok {
			for _, line := range strings.Split(rest, "\n") {
				f := strings.Fields(line)
				if len(f) == 0 || !strings.HasPrefix(line, "   ") {
					break
				}
				name := strings.TrimSuffix(f[0], ",")
				if name == "help" || name == "h" {
					continue
				}
				h.subs[name] = true
				walk(append(append([]string{}, path...), name))
			}
		}
	}
	walk(nil)
	return tree
}

// shellWords splits a command line into words as sh would (quotes, no
// expansion), ending at what ends a simple command.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote, in = ch, true
		case ch == ' ' || ch == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case strings.IndexByte("|;&)<>#", ch) >= 0:
			i = len(s)
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// TestHelpExamplesParse checks every example in every --help: each
// `referee …` in it names an existing command, and every flag it gives is
// a flag of that command.
func TestHelpExamplesParse(t *testing.T) {
	tree := helpTree(t)
	examples := 0
	for _, h := range tree {
		_, ex, ok := strings.Cut(h.text, "Example")
		if !ok {
			continue
		}
		ex, _, _ = strings.Cut(ex, "\nOPTIONS:")
		ex, _, _ = strings.Cut(ex, "\nCOMMANDS:")
		for _, line := range strings.Split(ex, "\n") {
			for _, seg := range regexp.MustCompile(`(?:^|[|;(&]|\$\(|<\()\s*referee\s`).FindAllStringIndex(line, -1) {
				start := strings.Index(line[seg[0]:], "referee") + seg[0]
				words := shellWords(line[start:])
				if len(words) == 0 || words[0] != "referee" {
					continue
				}
				examples++
				path, rest := []string{}, words[1:]
				cmd := tree[""]
				for len(rest) > 0 && cmd.subs[rest[0]] {
					path = append(path, rest[0])
					cmd, rest = tree[strings.Join(path, " ")], rest[1:]
				}
				if len(path) == 0 && !(len(rest) > 0 && rest[0] == "--version") {
					t.Errorf("%q (in referee %s --help): no such command", line, strings.Join(h.path, " "))
					continue
				}
				for _, w := range rest {
					if w == "--" {
						break
					}
					if len(w) < 2 || w[0] != '-' {
						continue
					}
					name, _, _ := strings.Cut(w, "=")
					if !cmd.flags[name] {
						t.Errorf("%q (in referee %s --help): referee %s has no flag %s", line, strings.Join(h.path, " "), strings.Join(path, " "), name)
					}
				}
			}
		}
	}
	if examples < 40 {
		t.Errorf("found only %d examples", examples)
	}
	t.Logf("%d examples checked", examples)
}
