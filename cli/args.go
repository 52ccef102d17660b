package cli

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
)

// interspersed moves a command's flags ahead of its arguments, so that
// `referee pull IMAGE --out DIR` works as crane and oras users type it:
// urfave/cli v2 stops reading flags at the first argument. Everything after
// "--" (a step's command) is left exactly as it is.
func interspersed(app *cli.App, args []string) ([]string, error) {
	if n := len(args); n > 1 && args[n-1] == completionFlag {
		// urfave/cli looks for the completion flag last.
		rest, err := interspersed(app, args[:n-1])
		if err != nil {
			rest = args[:n-1]
		}
		return append(rest, completionFlag), nil
	}
	if len(args) < 2 {
		return args, nil
	}
	out := []string{args[0]}
	cmds := app.Commands
	var cmd *cli.Command
	i := 1
	for i < len(args) {
		c := findCommand(cmds, args[i])
		if c == nil {
			break
		}
		out = append(out, args[i])
		cmd, cmds = c, c.Subcommands
		i++
	}
	if cmd == nil {
		return args, nil
	}
	var flags, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue(cmd, name) {
			if i+1 >= len(args) {
				// No value follows; moved ahead, it would take an
				// argument as its value.
				return nil, option.Usagef("%s needs a value (see referee %s --help)", a, strings.Join(out[1:], " "))
			}
			i++
			flags = append(flags, args[i])
		}
	}
	return append(append(out, flags...), positional...), nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// takesValue reports whether the command's flag called name needs a value.
func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if bf, ok := f.(*cli.BoolFlag); ok && bf != nil {
				return false
			}
			return true
		}
	}
	return false
}
