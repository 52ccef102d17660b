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
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/suggest"
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
	if verify.IsNotVerified(err) {
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

// unknownCommand reports a command that does not exist, with the nearest
// existing one.
func unknownCommand(c *cli.Context, name string) error {
	var names []string
	cmds := c.App.Commands
	if c.Command != nil && len(c.Command.Subcommands) > 0 {
		cmds = c.Command.Subcommands
	}
	for _, cmd := range cmds {
		if !cmd.Hidden {
			names = append(names, cmd.Name)
		}
	}
	where := "referee"
	if c.Command != nil && c.Command.Name != "" {
		where = fullName(c)
	}
	if best := nearest(name, names); best != "" {
		return option.Usagef("%q is not a command of %s; did you mean %q? (%s --help lists them)", name, where, best, where)
	}
	return option.Usagef("%q is not a command of %s (%s --help lists them)", name, where, where)
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

// nearest returns the name closest to s, if close enough, else one that s
// begins.
func nearest(s string, names []string) string {
	if best := suggest.Nearest(s, names, len(s)/2); best != "" {
		return best
	}
	if len(s) >= 3 {
		for _, n := range names {
			if strings.HasPrefix(n, s) {
				return n
			}
		}
	}
	return ""
}

// requireArgs checks the number of positional arguments.
func requireArgs(c *cli.Context, lo, hi int, what string) error {
	if n := c.NArg(); n < lo || (hi >= 0 && n > hi) {
		return option.Usagef("%s takes %s (see %s --help)", fullName(c), what, fullName(c))
	}
	return nil
}

// requireFlag reports a missing required flag as a one-line usage error.
// (urfave's Required would also print the whole help on stdout, which
// pollutes output that scripts read.)
func requireFlag(c *cli.Context, value, name string) error {
	if value == "" {
		return option.Usagef("--%s is required (see %s --help)", name, fullName(c))
	}
	return nil
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

var (
	undefinedFlag = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	badFlagValue  = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]+): (.*)$`)
	flagNoValue   = regexp.MustCompile(`^flag needs an argument: -+(.+)$`)
)

// usageError rewords what Go's flag package says of a bad flag in the
// user's terms: the flag as they type it, the command, what is wrong and
// the nearest flag.
func usageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	where := fullName(c)
	switch {
	case undefinedFlag.MatchString(msg):
		name := undefinedFlag.FindStringSubmatch(msg)[1]
		var names []string
		if c.Command != nil {
			for _, f := range c.Command.Flags {
				names = append(names, f.Names()...)
			}
		}
		hint := ""
		if best := nearest(name, names); best != "" {
			hint = fmt.Sprintf("; did you mean %s?", dashes(best))
		}
		return option.Usagef("%s has no flag %s%s (see %s --help)", where, dashes(name), hint, where)
	case badFlagValue.MatchString(msg):
		m := badFlagValue.FindStringSubmatch(msg)
		what := "is not valid"
		switch {
		case strings.Contains(m[3], "parse error") && isDurationFlag(c, m[2]):
			what = "is not a duration (e.g. 30s, 5m, 720h)"
		case strings.Contains(m[3], "parse error"):
			what = "is not a number"
		}
		return option.Usagef("%s %q %s", dashes(m[2]), m[1], what)
	case flagNoValue.MatchString(msg):
		return option.Usagef("%s needs a value (see %s --help)", dashes(flagNoValue.FindStringSubmatch(msg)[1]), where)
	}
	return option.UsageError{Err: err}
}

// dashes writes a flag as it is typed: -k, --layout-key.
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func isDurationFlag(c *cli.Context, name string) bool {
	if c.Command == nil {
		return false
	}
	for _, f := range c.Command.Flags {
		if _, ok := f.(*cli.DurationFlag); ok && slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
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
