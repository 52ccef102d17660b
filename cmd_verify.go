package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify a supply chain: an image from its registry, or a layout and a directory of links",
		ArgsUsage: "[IMAGE]",
		Description: `With IMAGE (HOST/REPO:TAG, HOST/REPO@DIGEST or oci-layout:PATH[:TAG]): resolves it once, reads
its referrer graph, picks the layout (--layout FILE or OCI reference; else the highest-version
layout attached to the image that every --layout-key signed) and evaluates it on the links
found there. The evidence must be bound to the image: the layout names the artifact
` + attest.ImageArtifact + ` in a step's expected_products and that step's link records the image
(referee run --attach IMAGE --bind-image).

Without IMAGE: the equivalent of in-toto-verify on --layout and the STEP.KEYID8.link files of
--link-dir (sublayout links in STEP.KEYID8/).

Every --layout-key must have signed the layout. Inspections run commands and are refused unless
--run-inspections is given.

Exit status: 0 verified, 1 not verified, 2 usage, input, network or registry error.

Examples:
   referee verify localhost:5000/app@sha256:… --layout-key owner.pub
   referee verify --layout root.layout --layout-key keys/owner.pub --link-dir links/`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "layout", Usage: "signed layout: a file, or an OCI reference to one (required without IMAGE)"},
			&cli.StringSliceFlag{Name: "layout-key", Usage: "layout owner public key (repeatable; each must have signed)"},
			&cli.StringFlag{Name: "link-dir", Usage: "directory of link files (without IMAGE; default .)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "report format: text or json"},
			&cli.BoolFlag{Name: "run-inspections", Usage: "run the layout's inspection commands (in --inspection-dir)"},
			&cli.StringFlag{Name: "inspection-dir", Value: ".", Usage: "working directory of inspections"},
		}, registryFlags()...),
		Action: verifyAction,
	}
}

func verifyAction(c *cli.Context) error {
	format := c.String("format")
	if format != "text" && format != "json" {
		return usagef("--format %q: want text or json", format)
	}
	if c.NArg() > 1 {
		return usagef("verify takes at most one IMAGE")
	}
	keys, err := loadKeys(c, "layout-key")
	if err != nil {
		return err
	}
	o := verify.Options{LayoutKeys: keys}
	if c.Bool("run-inspections") {
		o.Inspector = &verify.CommandInspector{Dir: c.String("inspection-dir")}
	}
	var report *verify.Report
	var verr error
	if c.NArg() == 1 {
		report, verr = verifyImage(c, c.Args().First(), o)
	} else {
		report, verr = verifyLocal(c, o)
	}
	if report != nil {
		if err := printReport(c, report, format); err != nil {
			return err
		}
	}
	return verr
}

func verifyImage(c *cli.Context, image string, o verify.Options) (*verify.Report, error) {
	if c.IsSet("link-dir") {
		return nil, usagef("--link-dir is for local verification; with IMAGE the links come from the registry")
	}
	s, _, desc, err := oci.OpenResolved(c.Context, image, ociOptions(c))
	if err != nil {
		return nil, err
	}
	io := verify.ImageOptions{Options: o, Discover: discoverOptions(c), MaxBlobBytes: c.Int64("max-blob-size")}
	if l := c.String("layout"); l != "" {
		cand, err := layoutref.Load(c.Context, l, ociOptions(c))
		if err != nil {
			return nil, err
		}
		io.Layout = &cand
	}
	return verify.Image(c.Context, s, desc, io)
}

func verifyLocal(c *cli.Context, o verify.Options) (*verify.Report, error) {
	if err := requireFlags(c, "layout"); err != nil {
		return nil, err
	}
	layoutPath := c.String("layout")
	env, err := attest.ReadEnvelopeFile(layoutPath, attest.DefaultMaxFileSize)
	if err != nil {
		return nil, err
	}
	if kind, err := env.PayloadKind(); err != nil || kind != "layout" {
		if err == nil {
			err = fmt.Errorf("is a %q document, not a layout", kind)
		}
		return nil, fmt.Errorf("%s: %w", layoutPath, err)
	}
	dir := c.String("link-dir")
	if dir == "" {
		dir = "."
	}
	links, err := verify.LoadLinkDir(dir)
	if err != nil {
		return nil, err
	}
	return verify.Verify(c.Context, verify.Evidence{Source: layoutPath, Envelope: env}, links, o)
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
