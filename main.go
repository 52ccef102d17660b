// Command referee stores in-toto supply-chain evidence in OCI registries and
// verifies it. This file wires commands only; the work is in attest/ and
// verify/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/verify"
)

// Set by the release build (-ldflags "-X main.version=…").
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// Exit codes, documented in README.md.
const (
	exitOK          = 0
	exitNotVerified = 1
	exitError       = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWithStdin(ctx, args, os.Stdin, stdout, stderr)
}

// runWithStdin is run with the standard input given (`referee verify -`).
func runWithStdin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	app.Reader = stdin
	err := app.RunContext(ctx, interspersed(app, args))
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() == exitOK {
		return exitOK
	}
	fmt.Fprintf(stderr, "referee: %v\n", err)
	if verify.IsNotVerified(err) {
		return exitNotVerified
	}
	return exitError
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                      "referee",
		Usage:                     "in-toto supply-chain evidence: keys, layouts, links and verification",
		Version:                   version,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		HideVersion:               true,
		DisableSliceFlagSeparator: true,
		// Errors are printed and mapped to exit codes by run, not by urfave.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Commands: []*cli.Command{
			keygenCommand(),
			keyCommand(),
			layoutCommand(),
			runCommand(),
			recordCommand(),
			signCommand(),
			verifyCommand(),
			attachCommand(),
			discoverCommand(),
			pullCommand(),
			copyCommand(),
			promoteCommand(),
			demoCommand(),
			registryCommand(),
			versionCommand(),
		},
	}
	setUsageErrors(app.Commands, app.OnUsageError)
	return app
}

// setUsageErrors makes every command report a bad flag as a one-line usage
// error (exit 2) instead of printing its help on stdout.
func setUsageErrors(cmds []*cli.Command, f cli.OnUsageErrorFunc) {
	for _, c := range cmds {
		c.OnUsageError = f
		setUsageErrors(c.Subcommands, f)
	}
}

// usageError marks a command-line mistake (exit 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print version, commit and build date",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "referee %s\ncommit: %s\nbuilt: %s\n", version, commit, date)
			return err
		},
	}
}
