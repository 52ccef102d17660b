package option

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/verify"
)

// Output is --format and --quiet. Results go to stdout (in the chosen
// format), messages to stderr; --quiet prints neither, and a not-verified
// outcome is then said by the exit status alone (errors are still printed).
type Output struct {
	Format string
	Quiet  bool
	// Formats are the accepted values of --format, the first the default;
	// with fewer than two there is no --format flag.
	Formats []string
	// FailJSON, when set, is the JSON object that says a failure in this
	// command's own shape (verify: {"verified": false, "error": …});
	// default {"error": …}.
	FailJSON func(err error) any

	stdout *countingWriter
}

// countingWriter remembers whether anything was written.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewOutput returns an Output accepting formats, the first the default.
func NewOutput(formats ...string) Output { return Output{Formats: formats} }

// Text and JSON are the usual formats.
var (
	TextJSON = []string{"text", "json"}
)

func (o *Output) Flags() []cli.Flag {
	fs := []cli.Flag{&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors; the exit status says the outcome", Destination: &o.Quiet}}
	if len(o.Formats) > 1 {
		fs = append(fs, &cli.StringFlag{Name: "format", Value: o.Formats[0], Usage: "output format: " + strings.Join(o.Formats, " or "), Destination: &o.Format})
	}
	return fs
}

func (o *Output) Parse(*cli.Context) error {
	if o.Format == "" && len(o.Formats) > 0 {
		o.Format = o.Formats[0]
	}
	if len(o.Formats) > 1 && !slices.Contains(o.Formats, o.Format) {
		return Usagef("--format %q: want %s", o.Format, strings.Join(o.Formats, " or "))
	}
	return nil
}

// JSON reports whether --format json was asked for.
func (o *Output) JSON() bool { return o.Format == "json" }

// Stdout is where results go: nowhere with --quiet.
func (o *Output) Stdout(c *cli.Context) io.Writer {
	if o.Quiet {
		return io.Discard
	}
	if o.stdout == nil {
		o.stdout = &countingWriter{w: c.App.Writer}
	}
	return o.stdout
}

// Fail makes sure that --format json prints one JSON object whatever the
// outcome: when the command failed before printing its result, the object
// is {"error": "…"} (the message also goes to stderr, as always).
func (o *Output) Fail(c *cli.Context, err error) {
	if err == nil || o.Format != "json" || o.Quiet || (o.stdout != nil && o.stdout.n > 0) {
		return
	}
	var v any = map[string]string{"error": err.Error()}
	if o.FailJSON != nil {
		v = o.FailJSON(err)
	}
	_ = WriteJSON(o.Stdout(c), v)
}

// Stderr is where messages go: nowhere with --quiet.
func (o *Output) Stderr(c *cli.Context) io.Writer {
	if o.Quiet {
		return io.Discard
	}
	return c.App.ErrWriter
}

// Done passes err on, marked Silent when --quiet and err is a
// verification failure or another Negative, which the exit status (1)
// then says alone.
func (o *Output) Done(err error) error {
	var negative Negative
	if err != nil && o.Quiet && (verify.IsNotVerified(err) || errors.As(err, &negative)) {
		return Silent{err}
	}
	return err
}

// WriteJSON writes v indented, as one JSON document. Characters a terminal
// would act on (DEL, C1 and bidi controls, which encoding/json leaves raw)
// are escaped as \uXXXX, which changes no value.
func WriteJSON(w io.Writer, v any) error {
	return writeJSON(w, v, "  ")
}

// WriteJSONLine writes v on one line (JSON Lines, for batch output).
func WriteJSONLine(w io.Writer, v any) error {
	return writeJSON(w, v, "")
}

func writeJSON(w io.Writer, v any, indent string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", indent)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termsafe.EscapeJSON(b.Bytes()))
	return err
}
