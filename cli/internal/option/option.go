// Package option holds the flag groups that referee's commands embed, as
// oras does in cmd/oras/internal/option: each group is a small type with
// its flags and its parse step, so that a flag means the same thing, with
// the same short name, in every command that has it.
package option

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Group is one set of flags and the step that checks and completes their
// values once urfave/cli has set them.
type Group interface {
	Flags() []cli.Flag
	Parse(c *cli.Context) error
}

// Flags concatenates the flags of groups.
func Flags(groups ...Group) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		out = append(out, g.Flags()...)
	}
	return out
}

// Parse runs every group's parse step, in order.
func Parse(c *cli.Context, groups ...Group) error {
	for _, g := range groups {
		if err := g.Parse(c); err != nil {
			return err
		}
	}
	return nil
}

// UsageError marks a command-line mistake: exit status 2, one line.
type UsageError struct{ Err error }

func (u UsageError) Error() string { return u.Err.Error() }
func (u UsageError) Unwrap() error { return u.Err }

// Usagef returns a UsageError.
func Usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// Silent wraps an error whose message --quiet asks not to print; the exit
// status still says it.
type Silent struct{ Err error }

func (s Silent) Error() string { return s.Err.Error() }
func (s Silent) Unwrap() error { return s.Err }

// Negative is a command's answer "no" that is not an error: findings of
// a lint, a check that evaluated to false. The exit status is 1, as for
// an image that does not verify.
type Negative struct{ Err error }

func (n Negative) Error() string { return n.Err.Error() }
func (n Negative) Unwrap() error { return n.Err }

// Flag groups of one flag each that several commands share.

// Force is --force: replace files that exist.
type Force struct{ Force bool }

func (o *Force) Flags() []cli.Flag {
	return []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "replace output files that exist", Destination: &o.Force}}
}
func (o *Force) Parse(*cli.Context) error { return nil }

// Check is a group of no flags whose parse step is a check, such as a
// required flag, to run before the groups that load files.
type Check func(c *cli.Context) error

func (Check) Flags() []cli.Flag            { return nil }
func (f Check) Parse(c *cli.Context) error { return f(c) }
