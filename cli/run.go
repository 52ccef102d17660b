package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
)

func runCommand() *cli.Command {
	f := newLinkFlags()
	var materials, products cli.StringSlice
	groups := f.groups()
	return &cli.Command{
		Name:      "run",
		Usage:     "run a step's command, record materials and products, and write the signed link",
		ArgsUsage: "-- COMMAND [ARGS...]",
		Description: `Records the materials (sha256), runs the command, records the products and the
command's stdout, stderr and exit code, and writes STEP.KEYID8.link into --out. Prints the
link's path, or with --attach the referrer's digest. The flags and their short names are
in-toto-run's (-n -k -m -p -d).

Before the command runs, everything that can be checked is: the step name, the key, the
output directory, and the --attach registry. A material or product path that does not
exist is recorded as absent (a warning says so), as in-toto-run does.

The command's stdout goes to stderr, so that stdout carries only referee's result; with
--quiet (no result printed) it stays on stdout. Both are recorded in the link either way.

Examples:
   referee run --step-name build --key keys/bob --materials src --products app.tar -- tar -cf app.tar src
   referee run -n build -k keys/bob -m src -p app.tar --attach localhost:5000/app:v1 -- tar -cf app.tar src`,
		Flags: append(option.Flags(groups...),
			&cli.StringSliceFlag{Name: "materials", Aliases: []string{"m"}, Usage: "file or directory to record before the command (repeatable)", Destination: &materials},
			&cli.StringSliceFlag{Name: "products", Aliases: []string{"p"}, Usage: "file or directory to record after the command (repeatable)", Destination: &products},
		),
		Action: action(func(c *cli.Context) error {
			if c.NArg() == 0 {
				return option.Usagef("run needs the step's command after -- (see %s --help)", fullName(c))
			}
			if err := checkAttachable(c, &f.target, &f.remote); err != nil {
				return err
			}
			var stdout io.Writer = c.App.ErrWriter
			if f.out.Quiet {
				stdout = c.App.Writer
			}
			o := attest.RunOptions{
				StepName: f.step.Name, Command: c.Args().Slice(),
				Materials: materials.Value(), Products: products.Value(),
				Record: f.step.record(c, f.out.Quiet), Stdout: stdout, Stderr: c.App.ErrWriter,
				Env: stepEnv(),
			}
			link, res, err := attest.RunStep(c.Context, o)
			endProgress(c, o.Record.Progress)
			if err != nil {
				return fmt.Errorf("step %q: %w", o.StepName, err)
			}
			warnMissing(c, &f.out, res)
			if rv, _ := link.Byproducts["return-value"].(int); rv != 0 {
				fmt.Fprintf(f.out.Stderr(c), "warning: %q exited with %d; recorded in the link\n", o.Command[0], rv)
			}
			return f.finish(c, link)
		}, groups...),
	}
}

// warnMissing says which given paths did not exist when recorded.
func warnMissing(c *cli.Context, out *option.Output, res *attest.RunResult) {
	if res == nil {
		return
	}
	for _, p := range res.MissingMaterials {
		fmt.Fprintf(out.Stderr(c), "warning: material %s does not exist; not recorded\n", p)
	}
	for _, p := range res.MissingProducts {
		fmt.Fprintf(out.Stderr(c), "warning: product %s does not exist; not recorded\n", p)
	}
}

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:  "record",
		Usage: "record a step that is not one command: start before it, stop after it",
		Description: `start records the materials into a signed .STEP.KEYID8.link-unfinished; stop checks it,
records the products and writes STEP.KEYID8.link (in-toto-record's start and stop).

Example:
   referee record start --step-name review --key keys/alice --materials src
   … work …
   referee record stop --step-name review --key keys/alice --products src`,
		Subcommands: []*cli.Command{recordStartCommand(), recordStopCommand()},
	}
}

func recordStartCommand() *cli.Command {
	var (
		out       = option.NewOutput(option.TextJSON...)
		envelope  option.Envelope
		step      = newStepFlags()
		materials cli.StringSlice
	)
	groups := []option.Group{&out, step, &envelope}
	return &cli.Command{
		Name:  "start",
		Usage: "record the materials of a step",
		Description: `Prints the path of the unfinished link.

Example:
   referee record start -n review -k keys/alice -m src`,
		Flags: append(option.Flags(groups...),
			&cli.StringSliceFlag{Name: "materials", Aliases: []string{"m"}, Usage: "file or directory to record (repeatable)", Destination: &materials}),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 0, 0, "no arguments"); err != nil {
				return err
			}
			ro := step.record(c, out.Quiet)
			link, res, err := attest.StartStep(c.Context, attest.RunOptions{StepName: step.Name, Materials: materials.Value(), Record: ro})
			endProgress(c, ro.Progress)
			if err != nil {
				return err
			}
			warnMissing(c, &out, res)
			payload, err := link.Marshal()
			if err != nil {
				return err
			}
			path := step.unfinishedPath()
			data, err := signAndWrite(path, envelope.Form(), payload, true, step.Signer())
			if err != nil {
				return err
			}
			return published(c, &out, nil, step.Name, path, data)
		}, groups...),
	}
}

func recordStopCommand() *cli.Command {
	f := newLinkFlags()
	var products cli.StringSlice
	groups := f.groups()
	return &cli.Command{
		Name:  "stop",
		Usage: "record the products of a started step and write its link",
		Description: `Prints the link's path, or with --attach the referrer's digest.

Example:
   referee record stop -n review -k keys/alice -p src --attach localhost:5000/app:v1`,
		Flags: append(option.Flags(groups...),
			&cli.StringSliceFlag{Name: "products", Aliases: []string{"p"}, Usage: "file or directory to record (repeatable)", Destination: &products}),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 0, 0, "no arguments"); err != nil {
				return err
			}
			path := f.step.unfinishedPath()
			env, err := attest.ReadEnvelopeFile(path, attest.DefaultMaxFileSize)
			if err != nil {
				return fmt.Errorf("no started step %q for this key in %s (run referee record start first)", f.step.Name, f.step.OutDir)
			}
			if err := env.VerifyKey(f.step.Signer().Key()); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			link, err := attest.ParseLink(env.Payload)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := checkAttachable(c, &f.target, &f.remote); err != nil {
				return err
			}
			ro := f.step.record(c, f.out.Quiet)
			res, err := attest.StopStep(c.Context, link, attest.RunOptions{Products: products.Value(), Record: ro})
			endProgress(c, ro.Progress)
			if err != nil {
				return err
			}
			warnMissing(c, &f.out, res)
			if err := f.finish(c, link); err != nil {
				return err
			}
			return removeUnfinished(path)
		}, groups...),
	}
}

// stepEnv is the step command's environment: referee's, without
// COSIGN_PASSWORD, which decrypted the signing key and which the command
// could otherwise print into the signed link (and the registry).
func stepEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "COSIGN_PASSWORD=") {
			out = append(out, kv)
		}
	}
	return out
}
