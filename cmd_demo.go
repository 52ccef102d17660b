package main

import (
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/demo"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a three-step supply chain in a temporary directory, verify it, tamper with it, verify again",
		Description: `Creates keys and a layout, records checkout, build and package steps, verifies (pass),
then replaces the built artifact between build and package and verifies again (a readable failure).
Exits 0 when both outcomes are as expected.

Example:
   referee demo --keep /tmp/referee-demo`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "keep", Usage: "work in this directory and leave it behind (default: a temporary directory, removed)"},
		},
		Action: func(c *cli.Context) error {
			return demo.Run(c.Context, c.App.Writer, demo.Options{Dir: c.String("keep")})
		},
	}
}
