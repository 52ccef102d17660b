package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify a supply chain: an image from its registry, or a layout and a directory of links",
		ArgsUsage: "[IMAGE... | -]",
		Description: `With IMAGE (HOST/REPO:TAG, HOST/REPO@DIGEST or oci-layout:PATH[:TAG]): resolves it once, reads
its referrer graph, picks the layout (--layout FILE or OCI reference; else the highest-version
layout attached to the image that every --layout-key signed) and evaluates it on the links
found there. The evidence must be bound to the image: the layout names the artifact
` + attest.ImageArtifact + ` in a step's expected_products and that step's link records the image
(referee run --attach IMAGE --bind-image).

With --vsa-key, a verification summary attached by 'referee promote' and signed by that key,
about this exact digest, is accepted in a few requests; without one, full verification follows
when --layout-key is given.

Several IMAGEs, or - to read references from stdin (one per line), are checked concurrently
(--parallel); stdout then has one line per image in input order ("VERIFIED ref@digest",
"NOT-VERIFIED ref@digest: reason", "ERROR ref: reason"), or one JSON object per line with --format json.

Without IMAGE: the equivalent of in-toto-verify on --layout and the STEP.KEYID8.link files of
--link-dir (sublayout links in STEP.KEYID8/).

Every --layout-key must have signed the layout. Inspections run commands and are refused unless
--run-inspections is given.

Exit status: 0 verified, 1 not verified, 2 usage, input, network or registry error.

Examples:
   referee verify localhost:5000/app@sha256:… --layout-key owner.pub
   referee verify prod.example.com/app@sha256:… --vsa-key promoter.pub
   crane ls localhost:5000/app | sed 's|^|localhost:5000/app:|' | referee verify - --layout-key owner.pub
   referee verify --layout root.layout --layout-key keys/owner.pub --link-dir links/`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "layout", Usage: "signed layout: a file, or an OCI reference to one (required without IMAGE)"},
			&cli.StringSliceFlag{Name: "layout-key", Usage: "layout owner public key (repeatable; each must have signed)"},
			&cli.StringFlag{Name: "link-dir", Usage: "directory of link files (without IMAGE; default .)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "report format: text or json"},
			&cli.BoolFlag{Name: "run-inspections", Usage: "run the layout's inspection commands (in --inspection-dir)"},
			&cli.StringFlag{Name: "inspection-dir", Value: ".", Usage: "working directory of inspections"},
			&cli.StringSliceFlag{Name: "vsa-key", Usage: "accept a verification summary signed by this promoter key (repeatable)"},
			&cli.DurationFlag{Name: "vsa-max-age", Usage: "refuse verification summaries older than this (e.g. 720h)"},
			&cli.IntFlag{Name: "parallel", Value: 8, Usage: "images checked at once when several are given"},
			&cli.IntFlag{Name: "min-layout-version", Usage: "refuse attached layouts below this version (so deleting the current layout cannot bring back an older one)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing; the exit status says it all"},
		}, registryFlags()...),
		Action: verifyAction,
	}
}

func verifyAction(c *cli.Context) error {
	format := c.String("format")
	if format != "text" && format != "json" {
		return usagef("--format %q: want text or json", format)
	}
	images := c.Args().Slice()
	if len(images) == 1 && images[0] == "-" {
		var err error
		if images, err = readRefs(c.App.Reader); err != nil {
			return err
		}
		if len(images) == 0 {
			return usagef("no image references on stdin")
		}
		return verifyMany(c, images, format)
	}
	if len(images) > 1 {
		return verifyMany(c, images, format)
	}
	keys, err := layoutKeys(c)
	if err != nil {
		return err
	}
	o := verify.Options{LayoutKeys: keys}
	if c.Bool("run-inspections") {
		o.Inspector = &verify.CommandInspector{Dir: c.String("inspection-dir")}
	}
	if len(images) == 1 {
		return verifyOneImage(c, images[0], o, format)
	}
	report, verr := verifyLocal(c, o)
	if report != nil && !c.Bool("quiet") {
		if err := printReport(c, report, format); err != nil {
			return err
		}
	}
	return verr
}

// layoutKeys loads --layout-key; it may be absent only when --vsa-key is
// given (a summary is then the only way to pass).
func layoutKeys(c *cli.Context) ([]*attest.Key, error) {
	if !c.IsSet("layout-key") && len(c.StringSlice("vsa-key")) > 0 {
		return nil, nil
	}
	return loadKeys(c, "layout-key")
}

// checkOptions turns the flags into promote.CheckOptions.
func checkOptions(c *cli.Context, o verify.Options) (promote.CheckOptions, error) {
	co := promote.CheckOptions{OCI: ociOptions(c), VSAMaxAge: c.Duration("vsa-max-age")}
	for _, p := range c.StringSlice("vsa-key") {
		k, err := attest.LoadPublicKey(p)
		if err != nil {
			return co, err
		}
		co.VSAKeys = append(co.VSAKeys, k)
	}
	if c.IsSet("link-dir") {
		return co, usagef("--link-dir is for local verification; with IMAGE the links come from the registry")
	}
	co.Full = verify.ImageOptions{Options: o, Discover: discoverOptions(c), MaxBlobBytes: c.Int64("max-blob-size"), MinLayoutVersion: c.Int("min-layout-version")}
	if l := c.String("layout"); l != "" {
		cand, err := layoutref.Load(c.Context, l, ociOptions(c))
		if err != nil {
			return co, err
		}
		co.Full.Layout = &cand
	}
	return co, nil
}

func verifyOneImage(c *cli.Context, image string, o verify.Options, format string) error {
	co, err := checkOptions(c, o)
	if err != nil {
		return err
	}
	out := promote.Check(c.Context, image, co)
	if c.Bool("quiet") {
		return out.Err
	}
	if out.VSA != nil {
		if format == "json" {
			return writeJSON(c.App.Writer, vsaJSON(out))
		}
		s := out.VSA.Summary
		_, err := fmt.Fprintf(c.App.Writer, "image %s\nverified by a verification summary from promoter %s (referrer %s): %s at %s, layout %s, levels %s\nPASS\n",
			out.Image, attest.ShortKeyID(out.VSA.KeyID), out.VSA.Referrer.Digest, s.Result, s.Time.Format(time.RFC3339), s.Layout, strings.Join(s.Levels, ","))
		return err
	}
	if out.Report != nil {
		if err := printReport(c, out.Report, format); err != nil {
			return err
		}
	}
	return out.Err
}

func vsaJSON(out promote.Outcome) map[string]any {
	return map[string]any{"image": out.Image, "verified": true, "vsa": map[string]any{
		"referrer": out.VSA.Referrer.Digest, "keyid": out.VSA.KeyID, "result": out.VSA.Summary.Result,
		"layout": out.VSA.Summary.Layout, "levels": out.VSA.Summary.Levels, "timeVerified": out.VSA.Summary.Time,
	}}
}

// verifyMany checks many images concurrently and prints one result per
// line in input order. Exit status: 2 if any could not be checked, else 1
// if any was not verified, else 0.
func verifyMany(c *cli.Context, images []string, format string) error {
	keys, err := layoutKeys(c)
	if err != nil {
		return err
	}
	co, err := checkOptions(c, verify.Options{LayoutKeys: keys})
	if err != nil {
		return err
	}
	var failed, errored int
	err = promote.CheckMany(c.Context, images, co, c.Int("parallel"), func(out promote.Outcome) error {
		switch {
		case out.Err == nil:
		case verify.IsNotVerified(out.Err):
			failed++
		default:
			errored++
		}
		if c.Bool("quiet") {
			return nil
		}
		if format == "json" {
			line := map[string]any{"image": out.Ref, "digest": out.Image, "verified": out.Err == nil}
			if out.Err != nil {
				line["error"] = out.Err.Error()
			}
			if out.VSA != nil {
				line["vsa"] = vsaJSON(out)["vsa"]
			}
			return writeJSONLine(c.App.Writer, line)
		}
		ref := out.Ref
		if out.Image != "" && !strings.Contains(ref, "@") {
			ref += "@" + out.Image
		}
		var err error
		switch {
		case out.Err == nil:
			_, err = fmt.Fprintf(c.App.Writer, "VERIFIED %s\n", ref)
		case verify.IsNotVerified(out.Err):
			_, err = fmt.Fprintf(c.App.Writer, "NOT-VERIFIED %s: %v\n", ref, out.Err)
		default:
			_, err = fmt.Fprintf(c.App.Writer, "ERROR %s: %v\n", ref, out.Err)
		}
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case errored > 0:
		return fmt.Errorf("%d of %d images could not be checked (%d not verified)", errored, len(images), failed)
	case failed > 0:
		return &verify.NotVerifiedError{Failures: []verify.Failure{{Reason: fmt.Sprintf("%d of %d images not verified", failed, len(images))}}}
	}
	return nil
}

// readRefs reads image references from r, one per line; blank lines and
// lines starting with # are skipped.
func readRefs(r io.Reader) ([]string, error) {
	var refs []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		refs = append(refs, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading references from stdin: %w", err)
	}
	return refs, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
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
		return writeJSON(c.App.Writer, r)
	}
	if err := r.WriteText(c.App.Writer); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}
