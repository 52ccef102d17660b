package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/referee-dev/referee/attest"
)

// CommandInspector runs inspections as in-toto-verify does: in Dir, with
// everything under Dir recorded as materials before and products after. A
// command that exits non-zero fails the inspection with a *CommandError.
// It is for local verification, where Dir holds the files the supply
// chain made; ArtifactInspector runs inspections from the evidence alone.
// https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#433-inspections
type CommandInspector struct {
	Dir    string
	Record attest.RecordOptions
}

var _ Inspector = (*CommandInspector)(nil)

// Inspect runs one inspection.
func (ci *CommandInspector) Inspect(ctx context.Context, in attest.Inspection) (*attest.Link, error) {
	return runCommand(ctx, ci.Dir, ci.Record, in)
}

// runCommand runs in in dir, recording everything under dir.
func runCommand(ctx context.Context, dir string, ro attest.RecordOptions, in attest.Inspection) (*attest.Link, error) {
	ro.Dir = dir
	// The link keeps the first MiB of output; a failure is explained by
	// its end, so the end is kept apart.
	stdout, stderr := &tailWriter{}, &tailWriter{}
	link, _, err := attest.RunStep(ctx, attest.RunOptions{StepName: in.Name, Command: in.Run, Materials: []string{"."}, Products: []string{"."}, Record: ro, Stdout: stdout, Stderr: stderr})
	if err != nil {
		return nil, err
	}
	if rv, _ := link.Byproducts["return-value"].(int); rv != 0 {
		return nil, &CommandError{Command: shellJoin(in.Run), ExitCode: rv, Stdout: stdout.String(), Stderr: stderr.String()}
	}
	return link, nil
}

// StagingInspector is an Inspector that is given the artifacts of the
// verified links: the products they record whose bytes Options.Artifacts
// has (path and sha256 both as recorded). The engine calls InspectArtifacts
// instead of Inspect, once for each distinct set of artifacts; src reads
// their bytes, already checked against the sha256 the link records.
type StagingInspector interface {
	Inspector
	InspectArtifacts(ctx context.Context, in attest.Inspection, artifacts []StagedArtifact, src Artifacts) (*attest.Link, error)
}

// ArtifactInspector runs command inspections from the evidence alone (a
// registry's, for verify --run-inspections and promote): each in a fresh
// empty temporary directory that holds exactly the artifacts the engine
// stages, written under their recorded paths, and is removed afterwards;
// never in the caller's working directory. Everything in the directory is
// recorded as materials before and products after, as CommandInspector
// records Dir; Record.Dir is ignored. A command that exits non-zero fails
// the inspection with a *CommandError.
type ArtifactInspector struct {
	Record attest.RecordOptions
	// TempDir is where the directories are made; "" is os.TempDir().
	TempDir string
}

var _ StagingInspector = (*ArtifactInspector)(nil)

// Inspect runs in in an empty directory.
func (ai *ArtifactInspector) Inspect(ctx context.Context, in attest.Inspection) (*attest.Link, error) {
	return ai.InspectArtifacts(ctx, in, nil, nil)
}

// InspectArtifacts runs in in a new directory holding artifacts, read
// from src.
func (ai *ArtifactInspector) InspectArtifacts(ctx context.Context, in attest.Inspection, artifacts []StagedArtifact, src Artifacts) (*attest.Link, error) {
	dir, err := os.MkdirTemp(ai.TempDir, "referee-inspection-")
	if err != nil {
		return nil, fmt.Errorf("making the inspection's directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := fill(ctx, dir, artifacts, src); err != nil {
		return nil, err
	}
	return runCommand(ctx, dir, ai.Record, in)
}

// fill writes each artifact under its recorded path below dir, through an
// os.Root, refusing a path that is not clean, slash-separated and
// relative (fs.ValidPath), so that nothing is written outside dir.
func fill(ctx context.Context, dir string, artifacts []StagedArtifact, src Artifacts) error {
	if len(artifacts) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("the inspection's directory: %w", err)
	}
	defer root.Close()
	for _, a := range artifacts {
		if !fs.ValidPath(a.Path) || a.Path == "." || strings.Contains(a.Path, `\`) {
			return fmt.Errorf("artifact %q of step %q is not a clean relative path; it is not written into the inspection's directory", a.Path, a.Step)
		}
		r, err := openArtifact(ctx, src, a.Path, a.Hash["sha256"])
		if err != nil {
			return fmt.Errorf("artifact %s of step %q: %w", a.Path, a.Step, err)
		}
		err = writeArtifact(root, a, r)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// writeArtifact copies r into a's path below root, hashing as it copies:
// bytes that do not hash to the sha256 the link records are removed and
// refused.
func writeArtifact(root *os.Root, a StagedArtifact, r io.Reader) error {
	failed := func(err error) error {
		return fmt.Errorf("writing artifact %s into the inspection's directory: %w", a.Path, err)
	}
	if d := path.Dir(a.Path); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return failed(err)
		}
	}
	f, err := root.OpenFile(a.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return failed(err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if got, want := hex.EncodeToString(h.Sum(nil)), a.Hash["sha256"]; got != want {
			err = notAvailable(fmt.Sprintf("its bytes hash to sha256 %s, not to the %s the link records", shortHex(got), shortHex(want)))
		}
	}
	if err != nil {
		_ = root.Remove(a.Path)
		return fmt.Errorf("artifact %s of step %q: %w", a.Path, a.Step, err)
	}
	return nil
}

// CommandError is an inspection command that exited non-zero: the command
// as a shell would write it, its exit code, and the end of what it wrote
// (at most the last 10 lines and 2 KiB of each stream).
type CommandError struct {
	Command  string `json:"command"`
	ExitCode int    `json:"exitCode"`
	Stdout   string `json:"stdout,omitempty"`
	Stderr   string `json:"stderr,omitempty"`
}

// Error says, on one line, which command failed, how, and the first line
// of the end of its stderr (or stdout), which is where tools put their
// reason; the report shows the rest.
func (e *CommandError) Error() string {
	how := fmt.Sprintf("exited with %d", e.ExitCode)
	if e.ExitCode < 0 {
		how = "was stopped by a signal"
	}
	msg := fmt.Sprintf("command `%s` %s", visible(e.Command, false), how)
	for _, out := range []string{e.Stderr, e.Stdout} {
		if line := firstLine(out); line != "" && line != "…" {
			return msg + ": " + line
		}
	}
	return msg + " and wrote nothing"
}

// firstLine returns the first non-blank line of s (tar starts its stderr
// with a blank line).
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}

// Bounds of the output a CommandError keeps.
const (
	tailLines = 10
	tailBytes = 2 << 10
)

// tailWriter keeps the last tailBytes written to it.
type tailWriter struct {
	buf     []byte
	dropped bool
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) > 2*tailBytes {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailBytes:]...)
		w.dropped = true
	}
	return len(p), nil
}

// String returns the last tailLines lines (within tailBytes) that were
// written, starting with "…" when earlier output is left out.
func (w *tailWriter) String() string {
	b := w.buf
	cut := w.dropped
	if len(b) > tailBytes {
		b, cut = b[len(b)-tailBytes:], true
	}
	for len(b) > 0 && !utf8.RuneStart(b[0]) {
		b = b[1:] // a rune cut in two
	}
	s := strings.TrimRight(visible(string(b), true), "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > tailLines {
		lines, cut = lines[len(lines)-tailLines:], true
	}
	s = strings.Join(lines, "\n")
	if cut && s != "" {
		s = "…\n" + s
	}
	return s
}

// visible replaces what a terminal would act on rather than show (escape
// sequences, carriage returns, invalid UTF-8) by Go-style escapes, so that
// a command's output cannot rewrite the report around it; newlines are
// kept when lines is set.
func visible(s string, lines bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == '\n' && lines, r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// shellJoin writes argv as a POSIX shell command line that runs it: each
// word as it is when it holds only characters no shell treats specially,
// otherwise in single quotes, a single quote itself written as quote,
// backslash, quote, quote; the empty word is two single quotes. It is for
// showing commands to a person, who may paste them into sh. (The modules
// github.com/kballard/go-shellquote and al.essio.dev/pkg/shellescape do
// this, but neither is among those this project can fetch, and it is a
// dozen lines.)
func shellJoin(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = shellQuote(a)
	}
	return strings.Join(words, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	for _, r := range s {
		if !shellSafe(r) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// shellSafe reports whether r means nothing special to sh anywhere in a
// word: letters, digits and a few punctuation marks. '=' and '~' are left
// out, since "a=b" first on a line and "~" first in a word are expanded.
func shellSafe(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("-_./:,+@%", r)
}
