package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "verify a supply chain: a layout, its owner key(s) and a directory of links",
		Description: `The equivalent of in-toto-verify. Every --layout-key must have signed the layout. Links are
the STEP.KEYID8.link files of --link-dir (DSSE or Metablock); sublayout links sit in STEP.KEYID8/.
Inspections run commands and are refused unless --run-inspections is given.

Exit status: 0 verified, 1 not verified, 2 usage or input error.

Example:
   referee verify --layout root.layout --layout-key keys/owner.pub --link-dir links/`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "layout", Usage: "signed layout file (required)"},
			&cli.StringSliceFlag{Name: "layout-key", Usage: "layout owner public key (repeatable; each must have signed)"},
			&cli.StringFlag{Name: "link-dir", Value: ".", Usage: "directory of link files"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "report format: text or json"},
			&cli.BoolFlag{Name: "run-inspections", Usage: "run the layout's inspection commands (in --inspection-dir)"},
			&cli.StringFlag{Name: "inspection-dir", Value: ".", Usage: "working directory of inspections"},
		},
		Action: verifyAction,
	}
}

func verifyAction(c *cli.Context) error {
	if err := requireFlags(c, "layout"); err != nil {
		return err
	}
	format := c.String("format")
	if format != "text" && format != "json" {
		return usagef("--format %q: want text or json", format)
	}
	keys, err := loadKeys(c, "layout-key")
	if err != nil {
		return err
	}
	layoutPath := c.String("layout")
	env, err := attest.ReadEnvelopeFile(layoutPath, attest.DefaultMaxFileSize)
	if err != nil {
		return err
	}
	if kind, err := env.PayloadKind(); err != nil || kind != "layout" {
		if err == nil {
			err = fmt.Errorf("is a %q document, not a layout", kind)
		}
		return fmt.Errorf("%s: %w", layoutPath, err)
	}
	links, err := verify.LoadLinkDir(c.String("link-dir"))
	if err != nil {
		return err
	}
	o := verify.Options{LayoutKeys: keys}
	if c.Bool("run-inspections") {
		o.Inspector = &verify.CommandInspector{Dir: c.String("inspection-dir")}
	}
	report, verr := verify.Verify(c.Context, verify.Evidence{Source: layoutPath, Envelope: env}, links, o)
	if report != nil {
		if err := printReport(c, report, format); err != nil {
			return err
		}
	}
	return verr
}

func printReport(c *cli.Context, r *verify.Report, format string) error {
	if format == "json" {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if err := r.WriteText(c.App.Writer); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}
