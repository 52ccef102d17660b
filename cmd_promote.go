package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:      "promote",
		Usage:     "copy an image with its evidence to DST only if it verifies, and attach a signed verification summary",
		ArgsUsage: "SRC DST",
		Description: `Verifies SRC from its registry exactly as 'referee verify' does. Only on success it copies the
image and its whole referrer graph to DST (a registry repository, tag optional, or
oci-layout:PATH[:TAG]) and attaches to it a SLSA Verification Summary Attestation (in-toto
Statement v1, predicate https://slsa.dev/verification_summary/v1) signed by --key, naming the
layout's digest and the result. On failure nothing is copied and the report says why (exit 1).
Promoting again to the same DST adds nothing. The image digest is printed on stdout.

Consumers then check it cheaply: referee verify DST@DIGEST --vsa-key promoter.pub

Example:
   referee promote staging.example.com/app:rc1 prod.example.com/app:1.0 --layout-key owner.pub --key promoter`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "layout-key", Usage: "layout owner public key (repeatable; each must have signed)"},
			&cli.StringFlag{Name: "layout", Usage: "the layout to use: a file or an OCI reference (default: the current layout attached to SRC)"},
			&cli.StringFlag{Name: "key", Usage: "promoter private key that signs the verification summary (required unless --dry-run)"},
			&cli.StringSliceFlag{Name: "level", Usage: "verified level to record in the summary (repeatable; default IN_TOTO_LAYOUT_VERIFIED)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "verify and print what would be copied; copy nothing"},
			&cli.IntFlag{Name: "min-layout-version", Usage: "refuse attached layouts below this version"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "report format: text or json"},
		}, registryFlags()...),
		Action: promoteAction,
	}
}

func promoteAction(c *cli.Context) error {
	if c.NArg() != 2 {
		return usagef("promote takes SRC and DST")
	}
	format := c.String("format")
	if format != "text" && format != "json" {
		return usagef("--format %q: want text or json", format)
	}
	keys, err := loadKeys(c, "layout-key")
	if err != nil {
		return err
	}
	o := promote.Options{DryRun: c.Bool("dry-run"), Levels: c.StringSlice("level")}
	if !o.DryRun {
		if err := requireFlags(c, "key"); err != nil {
			return err
		}
		if o.Signer, err = attest.LoadSigner(c.String("key")); err != nil {
			return err
		}
	}
	o.Verify = verify.ImageOptions{Options: verify.Options{LayoutKeys: keys}, Discover: discoverOptions(c), MaxBlobBytes: c.Int64("max-blob-size"), MinLayoutVersion: c.Int("min-layout-version")}
	if l := c.String("layout"); l != "" {
		cand, err := layoutref.Load(c.Context, l, ociOptions(c))
		if err != nil {
			return err
		}
		o.Verify.Layout = &cand
	}
	src, srcRef, desc, dst, dstRef, tag, err := openSrcDst(c)
	if err != nil {
		return err
	}
	o.Progress = progressLine(c, "copying", "items")
	res, perr := promote.Promote(c.Context, src, srcRef.Name(), desc, dst, dstRef.Name(), tag, o)
	endProgress(c, o.Progress)
	if res != nil && res.Report != nil && (perr != nil || format == "json" || o.DryRun) {
		if err := printReport(c, res.Report, format); err != nil {
			return err
		}
	}
	if perr != nil {
		if verify.IsNotVerified(perr) {
			fmt.Fprintf(c.App.ErrWriter, "not promoted: nothing was copied to %s\n", dstRef.Name())
		}
		return perr
	}
	if o.DryRun {
		fmt.Fprintf(c.App.ErrWriter, "dry run: %s verifies; would copy it and its %d referrers to %s\n", srcRef, countNodes(res.Graph)-1, dstRef)
		return res.Graph.WriteTree(c.App.ErrWriter, srcRef.String())
	}
	verb := "attached"
	if res.VSAExisted {
		verb = "kept the existing"
	}
	fmt.Fprintf(c.App.ErrWriter, "promoted %s to %s; %s verification summary %s\n", srcRef, dstRef, verb, res.VSA.Digest)
	_, err = fmt.Fprintln(c.App.Writer, desc.Digest)
	return err
}

func countNodes(n *oci.Node) int {
	c := 1
	for _, r := range n.Referrers {
		c += countNodes(r)
	}
	return c
}
