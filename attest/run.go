package attest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
)

// RunOptions describes one step to run and record, as in-toto-run.
type RunOptions struct {
	StepName  string
	Command   []string
	Materials []string
	Products  []string
	Record    RecordOptions
	// Stdout and Stderr, when set, also receive the command's output as it
	// runs; it is recorded in the link's byproducts either way.
	Stdout, Stderr io.Writer
	// Env is the command's environment; nil means this process's.
	Env []string
}

// maxByproduct bounds how much of stdout and stderr is kept in a link.
const maxByproduct = 1 << 20

// RunResult is what recording a step found besides the link: the paths
// given as materials or products that did not exist. They are skipped, as
// in-toto-run 1.3 skips them (it only logs "path: P does not exist,
// skipping.." at info level); the caller may warn of them.
type RunResult struct {
	MissingMaterials []string
	MissingProducts  []string
}

// RunStep records the materials, runs the command, records the products and
// returns the unsigned link. A command that exits non-zero is recorded
// (byproducts["return-value"]) and is not an error, as in in-toto-run; a
// command that cannot be started is. Materials are recorded before the
// command runs, so one that cannot be read fails the step before it runs.
// Materials and products that do not exist are skipped and listed in the
// RunResult. Call o.Check first when the link is to be written to a file.
// See https://github.com/in-toto/docs/blob/v1.0/in-toto-spec.md#44-file-formats-namekeyid-prefixlink.
func RunStep(ctx context.Context, o RunOptions) (*Link, *RunResult, error) {
	if o.StepName == "" {
		return nil, nil, errors.New("a step needs a name")
	}
	link, res, err := StartStep(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if len(o.Command) > 0 {
		var stdout, stderr limitedBuffer
		cmd := exec.CommandContext(ctx, o.Command[0], o.Command[1:]...)
		cmd.Dir = o.Record.Dir
		cmd.Env = o.Env
		cmd.Stdout = tee(&stdout, o.Stdout)
		cmd.Stderr = tee(&stderr, o.Stderr)
		code := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				return nil, nil, fmt.Errorf("running %q: %w", o.Command[0], err)
			}
			code = ee.ExitCode()
		}
		link.Byproducts = map[string]any{"stdout": stdout.String(), "stderr": stderr.String(), "return-value": code}
	}
	stopped, err := StopStep(ctx, link, o)
	if err != nil {
		return nil, nil, err
	}
	res.MissingProducts = stopped.MissingProducts
	return link, res, nil
}

// StartStep records a step's materials and returns the unfinished link
// (`referee record start`); materials that do not exist are skipped and
// listed in the RunResult.
func StartStep(ctx context.Context, o RunOptions) (*Link, *RunResult, error) {
	link := &Link{Type: "link", Name: o.StepName, Command: o.Command, Byproducts: map[string]any{}, Environment: map[string]any{}}
	res := &RunResult{}
	var err error
	if link.Materials, err = RecordArtifacts(ctx, o.Materials, collectMissing(o.Record, &res.MissingMaterials)); err != nil {
		return nil, nil, fmt.Errorf("materials: %w", err)
	}
	return link, res, nil
}

// StopStep records a step's products into link (`referee record stop`);
// products that do not exist are skipped and listed in the RunResult.
func StopStep(ctx context.Context, link *Link, o RunOptions) (*RunResult, error) {
	res := &RunResult{}
	var err error
	if link.Products, err = RecordArtifacts(ctx, o.Products, collectMissing(o.Record, &res.MissingProducts)); err != nil {
		return nil, fmt.Errorf("products: %w", err)
	}
	return res, nil
}

// collectMissing returns o with an OnMissing that appends to list, and
// still calls the caller's.
func collectMissing(o RecordOptions, list *[]string) RecordOptions {
	caller := o.OnMissing
	o.OnMissing = func(p string) {
		*list = append(*list, p)
		if caller != nil {
			caller(p)
		}
	}
	return o
}

func tee(buf io.Writer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}

// limitedBuffer keeps the first maxByproduct bytes written to it. The
// buffer is a named field, not embedded: an embedded bytes.Buffer would lend
// it ReadFrom, which io.Copy (and so os/exec) prefers to Write, and the
// limit would never apply.
type limitedBuffer struct {
	buf     bytes.Buffer
	dropped bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxByproduct - b.buf.Len(); room < len(p) {
		b.dropped = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string {
	if b.dropped {
		return b.buf.String() + "\n[referee: output truncated]"
	}
	return b.buf.String()
}
