package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/demo"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a supply chain end to end against a registry: record, attach, verify (pass), replay onto another image (refused)",
		Description: `Creates keys and a layout, records checkout, build and push steps (push builds a small OCI
image from the build's output and pushes it), attaches the layout and links to the image as
referrers, prints the referrer graph and verifies the image from the registry alone. Then it
copies the same evidence onto another image and shows that verification refuses it.

It uses referee's embedded registry unless --registry is given. The narration goes to stderr;
the last line on stdout is the verified image's digest reference. Exits 0 when both outcomes
are as expected.

Examples:
   referee demo
   referee demo --registry localhost:5000/demo --keep ./demo   # keys stay in ./demo (owner.pub)
   referee verify "$(referee demo --registry localhost:5000/demo --keep ./demo)" --layout-key ./demo/owner.pub`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "keep", Usage: "work in this directory and leave the keys there (default: a temporary directory, removed)"},
			&cli.StringFlag{Name: "registry", Usage: "HOST[:PORT]/REPO to use instead of the embedded registry"},
		},
		Action: func(c *cli.Context) error {
			ref, err := demo.Run(c.Context, demo.Options{Dir: c.String("keep"), Registry: c.String("registry"), Log: c.App.ErrWriter})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.App.Writer, ref)
			return err
		},
	}
}
