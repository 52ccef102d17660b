// Package cli is referee's command line: one file per command or command
// group, each action turning its flags (the groups of package option) into
// one options value, calling one library function and printing its result.
// Main is the whole program; the root's main.go only calls it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// Exit statuses, documented in README.md.
const (
	ExitOK          = 0
	ExitNotVerified = 1
	ExitError       = 2
)

// Main runs the command line args (args[0] is the program name) and
// returns the exit status: 0 success (verified), 1 not verified, 2 usage,
// input, network or registry error. Results go to stdout, messages and
// errors (one line, "referee: …") to stderr.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	args, err := interspersed(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err == nil {
		return ExitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() == ExitOK {
		return ExitOK
	}
	var silent option.Silent
	if !errors.As(err, &silent) {
		msg := oneLine(err.Error())
		if errors.Is(err, auth.ErrBasicCredentialNotFound) {
			msg += " (the registry asks for credentials and none are stored for it: referee login HOST, or --registry-config FILE)"
		}
		fmt.Fprintf(stderr, "referee: %s\n", msg)
	}
	var negative option.Negative
	if verify.IsNotVerified(err) || errors.As(err, &negative) {
		return ExitNotVerified
	}
	return ExitError
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", " ").Replace(s)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                      "referee",
		Usage:                     "in-toto supply-chain evidence in OCI registries: keys, layouts, links, attach, verify, promote",
		UsageText:                 "referee COMMAND [FLAGS] [ARGS]   (referee COMMAND --help for each)",
		Version:                   version().short(),
		Reader:                    stdin,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		DisableSliceFlagSeparator: true,
		EnableBashCompletion:      true,
		// Errors are printed and mapped to exit codes by Main, not by urfave.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usageError,
		// `referee` alone: the command list on stderr, exit 2.
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return unknownCommand(c, c.Args().First())
			}
			c.App.Writer = c.App.ErrWriter
			_ = cli.ShowAppHelp(c)
			return option.Usagef("no command given (see the list above)")
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		Commands: []*cli.Command{
			keygenCommand(),
			keyCommand(),
			layoutCommand(),
			linkCommand(),
			runCommand(),
			recordCommand(),
			signCommand(),
			verifyCommand(),
			checkCommand(),
			slsaCommand(),
			attestCommand(),
			attachCommand(),
			detachCommand(),
			discoverCommand(),
			pullCommand(),
			copyCommand(),
			promoteCommand(),
			loginCommand(),
			logoutCommand(),
			demoCommand(),
			registryCommand(),
			webhookCommand(),
			completionCommand(),
			versionCommand(),
		},
	}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}
	cli.VersionPrinter = func(c *cli.Context) { _ = version().write(c.App.Writer, false) }
	prepare(app.Commands, app.OnUsageError)
	return app
}

// prepare makes every command report a bad flag as a one-line usage error
// (exit 2) instead of printing its help on stdout, and an unknown
// subcommand as such.
func prepare(cmds []*cli.Command, f cli.OnUsageErrorFunc) {
	for _, c := range cmds {
		c.OnUsageError = f
		c.HideHelpCommand = true
		if c.BashComplete == nil {
			c.BashComplete = completeCommand(c)
		}
		if len(c.Subcommands) > 0 && c.Action == nil {
			c.Action = func(ctx *cli.Context) error {
				if ctx.NArg() > 0 {
					return unknownCommand(ctx, ctx.Args().First())
				}
				ctx.App.Writer = ctx.App.ErrWriter
				_ = cli.ShowSubcommandHelp(ctx)
				return option.Usagef("%s needs a subcommand (see the list above)", fullName(ctx))
			}
		}
		prepare(c.Subcommands, f)
	}
}

// fullName is the command's path as typed: "referee layout create".
func fullName(c *cli.Context) string {
	var parts []string
	for _, l := range c.Lineage() {
		if l.Command != nil && l.Command.Name != "" && l.Command.Name != c.App.Name {
			parts = append([]string{l.Command.Name}, parts...)
		}
	}
	return strings.Join(append([]string{"referee"}, parts...), " ")
}

// action wraps a command's work: the groups are parsed first (a bad flag
// or key is found before any work), then run.
func action(run func(c *cli.Context) error, groups ...option.Group) cli.ActionFunc {
	return func(c *cli.Context) error {
		err := option.Parse(c, groups...)
		if err == nil {
			err = runWithin(c, run, groups)
		}
		for _, g := range groups {
			if o, ok := g.(*option.Output); ok {
				o.Fail(c, err)
			}
		}
		return err
	}
}

// runWithin runs a command within --deadline, when it has the registry
// flags: the whole of its registry work, unless the command applies the
// deadline itself per image (verify, several images).
func runWithin(c *cli.Context, run func(*cli.Context) error, groups []option.Group) error {
	for _, g := range groups {
		r, ok := g.(*option.Remote)
		if !ok || r.PerImage || r.Deadline <= 0 {
			continue
		}
		registry := ""
		if ref, err := oci.ParseReference(c.Args().First()); err == nil {
			registry = ref.Registry
		}
		ctx, cancel := oci.WithDeadline(c.Context, r.Deadline, registry, "running "+fullName(c)+" (--deadline)")
		defer cancel()
		parent := c.Context
		c.Context = ctx
		err := run(c)
		c.Context = parent
		return oci.DeadlineError(ctx, err)
	}
	return run(c)
}
