package verify_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// inspectOnly verifies a layout of no steps and one inspection running
// argv, through inspector (nil: inspections are not run).
func inspectOnly(t *testing.T, argv []string, inspector verify.Inspector) (*verify.Report, error) {
	t.Helper()
	c := newChain(t)
	c.layout.Inspect = []attest.Inspection{{Name: "check", Run: argv}}
	return verify.Verify(context.Background(), c.layoutEvidence(), nil, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}, Inspector: inspector})
}

// TestInspectionCommandsAreShownAsShellWords: the command a report shows
// is quoted as a POSIX shell would need it, and only where it needs it.
func TestInspectionCommandsAreShownAsShellWords(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"tar", "xzf", "app.tar"}, "tar xzf app.tar"},
		{[]string{"sh", "-c", "exit 3"}, "sh -c 'exit 3'"},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
		{[]string{"echo", ""}, "echo ''"},
		{[]string{"echo", "$HOME", "`id`", "*.go", "a;b", "a|b", "a&b", `"q"`, `back\slash`}, `echo '$HOME' '` + "`id`" + `' '*.go' 'a;b' 'a|b' 'a&b' '"q"' 'back\slash'`},
		{[]string{"env", "A=b", "~/x", "x~", "#c", "a#b"}, `env 'A=b' '~/x' 'x~' '#c' 'a#b'`},
		{[]string{"./check.sh", "--dir=/tmp/a-b_c", "user@host:path,x+y%z"}, `./check.sh '--dir=/tmp/a-b_c' user@host:path,x+y%z`},
		{[]string{"printf", "caf\u00e9"}, "printf 'caf\u00e9'"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			r, err := inspectOnly(t, tc.argv, nil)
			wantFail(t, r, err, "runs `"+tc.want+"`;")
		})
	}
}

// trickyWords are arguments a shell would split, expand or choke on.
var trickyWords = []string{
	"plain", "two words", "", "it's", `"double"`, "$HOME", "${x:-y}", "`id`", "$(id)",
	"*", "?", "[a]", "~", "~root", "a=b", "#", "a#b", ";", "&&", "|", "<", ">", "(", ")", "{", "}",
	`back\slash`, "tab\there", "new\nline", "!", "^", "caf\u00e9", "'", "''", "-", "--", "-n", "%s",
}

// TestInspectionFailureCommandRoundTripsThroughSh: the command a failed
// inspection reports, pasted into /bin/sh, runs the very same argv.
func TestInspectionFailureCommandRoundTripsThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, word := range trickyWords {
		t.Run(strings.ReplaceAll(word, "\n", `\n`), func(t *testing.T) {
			// The command prints its arguments NUL-separated and fails.
			argv := []string{"sh", "-c", `printf '%s\0' "$0" "$@"; exit 3`, word, "x" + word + "y"}
			_, err := (&verify.CommandInspector{Dir: t.TempDir()}).Inspect(context.Background(), attest.Inspection{Name: "check", Run: argv})
			var ce *verify.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("want a command error, got %v", err)
			}
			if ce.ExitCode != 3 {
				t.Errorf("exit code %d, want 3", ce.ExitCode)
			}
			out, err := exec.Command(sh, "-c", ce.Command).Output()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("sh -c %s: %v", ce.Command, err)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			if want := argv[3:]; strings.Join(got, "\x00") != strings.Join(want, "\x00") {
				t.Errorf("sh -c %s\nran with %q, want %q", ce.Command, got, want)
			}
		})
	}
}

// TestInspectionFailureShowsExitCodeAndOutputTails: a failing inspection
// says which command failed, with what exit code, on one line, and the
// report shows the end of its stdout and stderr, bounded.
func TestInspectionFailureShowsExitCodeAndOutputTails(t *testing.T) {
	script := `i=1; while [ $i -le 50 ]; do echo "out $i"; i=$((i+1)); done
printf 'progress\r\033[2Jdone\n'
head -c 5000 /dev/zero | tr '\0' x >&2; echo >&2
echo "tar: Error is not recoverable: exiting now" >&2
exit 5`
	argv := []string{"sh", "-c", script}
	r, err := inspectOnly(t, argv, &verify.CommandInspector{Dir: t.TempDir()})
	wantFail(t, r, err, `inspection "check"`, "exited with 5", "tar: Error is not recoverable")
	if msg := err.Error(); strings.Contains(msg, "\n") {
		t.Errorf("failure is not one line: %q", msg)
	}
	if len(r.Failures) != 1 || r.Failures[0].Command == nil {
		t.Fatalf("failures %+v", r.Failures)
	}
	c := r.Failures[0].Command
	if c.ExitCode != 5 || !strings.HasPrefix(c.Command, "sh -c 'i=1;") {
		t.Errorf("command %q, exit code %d", c.Command, c.ExitCode)
	}
	outLines := strings.Split(c.Stdout, "\n")
	if len(outLines) != 11 || outLines[0] != "…" || outLines[1] != "out 42" || outLines[10] != `progress\r\x1b[2Jdone` {
		t.Errorf("stdout tail %q: want … then the last 10 lines, control characters shown escaped", outLines)
	}
	if len(c.Stderr) > 2<<10+len("…\n") || !strings.HasPrefix(c.Stderr, "…\n") || !strings.HasSuffix(c.Stderr, "\ntar: Error is not recoverable: exiting now") {
		t.Errorf("stderr tail (%d bytes) %q…%q: want at most 2 KiB, ending with the last line", len(c.Stderr), c.Stderr[:min(20, len(c.Stderr))], c.Stderr[max(0, len(c.Stderr)-50):])
	}
	text := reportText(r)
	for _, want := range []string{
		"FAIL inspection \"check\": inspection failed: command `sh -c 'i=1;",
		"\n  stdout:\n    …\n    out 42\n",
		"    out 50\n    progress\\r\\x1b[2Jdone\n  stderr:\n    …\n    xxxx",
		"xxxx\n    tar: Error is not recoverable: exiting now\nNOT VERIFIED\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report does not show %q:\n%s", want, text)
		}
	}
	if bytes.ContainsAny([]byte(text), "\r\x1b") {
		t.Errorf("report passes control characters through:\n%q", text)
	}
}

// TestInspectionFailureWithoutOutput says so.
func TestInspectionFailureWithoutOutput(t *testing.T) {
	r, err := inspectOnly(t, []string{"false"}, &verify.CommandInspector{Dir: t.TempDir()})
	wantFail(t, r, err, "command `false` exited with 1 and wrote nothing")
	if text := reportText(r); !strings.Contains(text, "  stdout: (nothing)\n  stderr: (nothing)\n") {
		t.Errorf("report:\n%s", text)
	}
}
