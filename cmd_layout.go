package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
)

func layoutCommand() *cli.Command {
	return &cli.Command{
		Name:  "layout",
		Usage: "create, sign and show in-toto layouts",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "build a layout from a YAML spec and sign it with the owner key(s)",
				Description: `The spec names the expiry, the functionaries' public-key files (relative to the spec),
the steps with their rules, and inspections. See docs/layout-spec.md.

Example:
   referee layout create --spec layout.yaml --key keys/owner --out root.layout
   referee layout create --spec layout.yaml --key keys/owner --attach localhost:5000/app:v1`,
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "spec", Usage: "layout spec (YAML; required)"},
					&cli.StringSliceFlag{Name: "key", Usage: "owner private key; repeat to sign with several"},
					&cli.StringFlag{Name: "out", Value: "root.layout", Usage: "where to write the signed layout"},
					metablockFlag, forceFlag, attachFlag, metadataFlag,
				}, registryFlags()...),
				Action: layoutCreate,
			},
			{
				Name:      "sign",
				Usage:     "add signatures to an existing layout",
				ArgsUsage: "LAYOUT",
				Description: `Example:
   referee layout sign --key keys/owner2 root.layout`,
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "key", Usage: "owner private key; repeat for several"},
					&cli.StringFlag{Name: "out", Usage: "write here instead of replacing LAYOUT"},
				},
				Action: func(c *cli.Context) error { return signFile(c, "layout") },
			},
			{
				Name:      "show",
				Usage:     "print a layout readably (signatures are listed, not verified)",
				ArgsUsage: "LAYOUT",
				Description: `Example:
   referee layout show root.layout`,
				Action: layoutShow,
			},
		},
	}
}

func layoutCreate(c *cli.Context) error {
	if err := requireFlags(c, "spec"); err != nil {
		return err
	}
	specPath := c.String("spec")
	data, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	spec, err := attest.ParseSpec(data)
	if err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	signers, err := loadSigners(c, "key")
	if err != nil {
		return err
	}
	base := filepath.Dir(specPath)
	layout, err := spec.Layout(func(p string) (*attest.Key, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		return attest.LoadPublicKey(p)
	}, time.Now())
	if err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	payload, err := layout.Marshal()
	if err != nil {
		return err
	}
	env, err := attest.SignPayload(formOf(c), payload, signers...)
	if err != nil {
		return err
	}
	image, err := attachImage(c)
	if err != nil {
		return err
	}
	t, err := openTarget(c, image)
	if err != nil {
		return err
	}
	out := c.String("out")
	written, err := writeEnvelope(out, env, c.Bool("force"))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "layout: %d steps, %d inspections, expires %s\n", len(layout.Steps), len(layout.Inspect), layout.Expires)
	return published(c, t, out, written)
}

func layoutShow(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("layout show takes one LAYOUT file")
	}
	env, err := attest.ReadEnvelopeFile(c.Args().First(), attest.DefaultMaxFileSize)
	if err != nil {
		return err
	}
	layout, err := attest.ParseLayout(env.Payload)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Args().First(), err)
	}
	return attest.WriteLayoutText(c.App.Writer, layout, env)
}
