package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/lazyre"
	"github.com/referee-dev/referee/internal/suggest"
)

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

var (
	undefinedFlag = lazyre.New(`^flag provided but not defined: -+(.+)$`)
	badFlagValue  = lazyre.New(`^invalid value "(.*)" for flag -+([^:]+): (.*)$`)
	flagNoValue   = lazyre.New(`^flag needs an argument: -+(.+)$`)
)

// usageError rewords what Go's flag package says of a bad flag in the
// user's terms: the flag as they type it, the command, what is wrong and
// the nearest flag.
func usageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	where := fullName(c)
	switch {
	case undefinedFlag().MatchString(msg):
		name := undefinedFlag().FindStringSubmatch(msg)[1]
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
	case badFlagValue().MatchString(msg):
		m := badFlagValue().FindStringSubmatch(msg)
		what := "is not valid"
		switch {
		case strings.Contains(m[3], "parse error") && isDurationFlag(c, m[2]):
			what = "is not a duration (e.g. 30s, 5m, 720h)"
		case strings.Contains(m[3], "parse error"):
			what = "is not a number"
		}
		return option.Usagef("%s %q %s", dashes(m[2]), m[1], what)
	case flagNoValue().MatchString(msg):
		return option.Usagef("%s needs a value (see %s --help)", dashes(flagNoValue().FindStringSubmatch(msg)[1]), where)
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
