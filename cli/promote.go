package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/slsa"
	"github.com/referee-dev/referee/verify"
)

func promoteCommand() *cli.Command {
	var (
		remote     option.Remote
		out        = option.NewOutput(option.TextJSON...)
		layoutKeys = option.PublicKeys{Name: "layout-key", Usage: "layout owner public key; each must have signed the layout"}
		signer     = option.Signer{Usage: "promoter private key that signs the verification summary (required unless --dry-run)", Optional: true}
		layout     string
		levels     cli.StringSlice
		copyTypes  cli.StringSlice
		dryRun     bool
		inspect    bool
		floors     floorFlags
	)
	out.FailJSON = func(err error) any { return promoteJSON{Error: err.Error()} }
	groups := []option.Group{&out, &layoutKeys, &signer, &remote, &floors}
	return &cli.Command{
		Name:      "promote",
		Usage:     "copy an image with its evidence to DST only if it verifies, and attach a signed verification summary",
		ArgsUsage: "SRC DST",
		Description: `Verifies SRC from its registry exactly as 'referee verify' does. Only on success it copies the
image to DST (a registry repository, tag optional, or oci-layout:PATH[:TAG]) with exactly the
evidence verification used — the layout, the links counted, sublayouts and their links — and
the artifacts and attestations its inspections read — and the referrers of the --copy-type artifact types, each referrer blob within --max-blob-size,
read in verification's one walk (nothing the registry shows later), and attaches to it a SLSA Verification Summary Attestation (in-toto
Statement v1, predicate https://slsa.dev/verification_summary/v1) signed by --key, naming the
layout's digest and the result. On failure nothing is copied, the report goes to stderr and
the exit status is 1. Promoting again to the same DST adds nothing.

stdout has the image digest (promoted, or with --dry-run the one that would be), and with
--format json one object in every outcome (promoted, dryRun, verified, reason or error,
referrers copied, the summary's referrer, the report).

Consumers then check it cheaply: referee verify DST@DIGEST --vsa-key promoter.pub

Examples:
   referee promote staging.example.com/app:rc1 prod.example.com/app:1.0 --layout-key owner.pub --key promoter
   referee promote localhost:5000/app:v1 oci-layout:./release --layout-key owner.pub --dry-run
   referee promote localhost:5000/app:v1 prod.example.com/app:1.0 --layout-key owner.pub --key promoter --run-inspections`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "layout", Aliases: []string{"l"}, Usage: "the layout to use: a file or an OCI reference (default: the current layout attached to SRC)", Destination: &layout},
			&cli.StringSliceFlag{Name: "level", Usage: "verified `LEVEL` to record in the summary (repeatable; default IN_TOTO_LAYOUT_VERIFIED and the SLSA_BUILD_LEVEL_N the evidence supports; a SLSA Build level it does not support is refused)", Destination: &levels},
			&cli.BoolFlag{Name: "run-inspections", Usage: "run the layout's inspection commands, in a fresh directory holding SRC's attached artifacts (native checks always run)", Destination: &inspect},
			&cli.BoolFlag{Name: "dry-run", Usage: "verify and say what would be copied; copy nothing", Destination: &dryRun},
			&cli.StringSliceFlag{Name: "copy-type", Usage: "also copy the image's referrers of this artifact `TYPE` (an SBOM, signatures; repeatable)", Destination: &copyTypes},
		),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 2, 2, "SRC and DST"); err != nil {
				return err
			}
			if !layoutKeys.Given() {
				return option.Usagef("--layout-key is required (see %s --help)", fullName(c))
			}
			o := promote.Options{DryRun: dryRun, Levels: levels.Value(), Signer: signer.One(), CopyTypes: copyTypes.Value()}
			if !dryRun && o.Signer == nil {
				return option.Usagef("--key is required unless --dry-run: it signs the verification summary")
			}
			o.Verify = verify.ImageOptions{Options: verify.Options{LayoutKeys: layoutKeys.Keys}, Discover: remote.Discover(), MaxBlobBytes: remote.MaxBlobBytes}
			if inspect {
				o.Verify.Inspector = &verify.ArtifactInspector{}
			}
			if layout != "" {
				cand, err := layoutref.Load(c.Context, layout, remote.OCI())
				if err != nil {
					return err
				}
				o.Verify.Layout = &cand
			}
			sd, err := openSrcDst(c, remote.OCI())
			if err != nil {
				return err
			}
			o.Verify.MinLayoutVersion = floors.For(sd.srcRef.Name())
			o.Progress = progressLine(c, out.Quiet, "copying", "item")
			o.DstLayout = sd.dstRef.Layout
			res, perr := promote.Promote(c.Context, sd.src, sd.srcRef.Name(), sd.desc, sd.dst, sd.dstRef.Name(), sd.tag, o)
			endProgress(c, o.Progress)
			return out.Done(printPromoted(c, &out, sd, dryRun, res, perr))
		}, groups...),
	}
}

// promoteJSON is promote's --format json object.
type promoteJSON struct {
	Source      string        `json:"source,omitempty"`
	Destination string        `json:"destination,omitempty"`
	Digest      string        `json:"digest,omitempty"`
	Promoted    bool          `json:"promoted"`
	DryRun      bool          `json:"dryRun,omitempty"`
	Verified    bool          `json:"verified"`
	Reason      string        `json:"reason,omitempty"`
	Error       string        `json:"error,omitempty"`
	Referrers   int           `json:"referrers"`
	LeftOut     []oci.Skipped `json:"leftOut,omitempty"`
	VSA         string        `json:"vsa,omitempty"`
	VSAExisted  bool          `json:"vsaExisted,omitempty"`
	// Levels are the summary's verifiedLevels; SLSA the Build level the
	// evidence supports, with each requirement.
	Levels []string     `json:"levels,omitempty"`
	SLSA   *slsa.Result `json:"slsa,omitempty"`
	// Cosign says what of cosign's legacy attestations (the .att tag)
	// verification counted and was carried: the tag, its layers, and
	// how many DST lacked.
	Cosign *cosignCopyJSON `json:"cosign,omitempty"`
	Report *verify.Report  `json:"report,omitempty"`
}

func printPromoted(c *cli.Context, out *option.Output, sd *srcDst, dryRun bool, res *promote.Result, perr error) error {
	j := promoteJSON{Source: sd.srcRef.String(), Destination: sd.dstRef.Name(), Digest: sd.desc.Digest.String(), DryRun: dryRun}
	if res != nil {
		j.Report = res.Report
		j.LeftOut = res.LeftOut
		j.Levels, j.SLSA = res.Levels, res.SLSA
		if cc := res.Cosign; cc != nil {
			j.Cosign = &cosignCopyJSON{Tag: cc.Tag, Layers: len(cc.Layers), Added: len(cc.Missing)}
		}
		if res.Graph != nil {
			j.Referrers = countNodes(res.Graph) - 1
		}
		if perr == nil && !dryRun {
			j.Promoted, j.VSA, j.VSAExisted = true, res.VSA.Digest.String(), res.VSAExisted
		}
	}
	j.Verified = res != nil && res.Report != nil && res.Report.Verified && (perr == nil || !verify.IsNotVerified(perr))
	switch {
	case perr == nil:
	case verify.IsNotVerified(perr):
		j.Reason = perr.Error()
	default:
		j.Error = perr.Error()
	}
	msgs := out.Stderr(c)
	if res != nil && res.Cosign != nil && perr == nil {
		verb := "added"
		if dryRun {
			verb = "would add"
		}
		fmt.Fprintf(msgs, "cosign attestations: %s %s (of the %s verification counted) to %s:%s\n", verb, plural(len(res.Cosign.Missing), "layer"), plural(len(res.Cosign.Layers), "layer"), sd.dstRef.Name(), res.Cosign.Tag)
	}
	if res != nil {
		for _, l := range res.LeftOut {
			fmt.Fprintf(msgs, "warning: referrer %s not copied: %s\n", termsafe.Quote(l.Digest), termsafe.Quote(l.Reason))
		}
	}
	if out.JSON() {
		if err := option.WriteJSON(out.Stdout(c), j); err != nil {
			return err
		}
	} else if verify.IsNotVerified(perr) && res != nil && res.Report != nil {
		if err := res.Report.WriteText(msgs); err != nil {
			return err
		}
	}
	if perr != nil {
		if verify.IsNotVerified(perr) {
			fmt.Fprintf(msgs, "not promoted: nothing was copied to %s\n", sd.dstRef.Name())
		}
		return perr
	}
	if dryRun {
		fmt.Fprintf(msgs, "dry run: %s verifies; would copy it and its %s to %s\n", sd.srcRef, plural(j.Referrers, "referrer"), sd.dstName())
		if err := res.Graph.WriteTree(msgs, sd.srcRef.String()); err != nil {
			return err
		}
	} else {
		verb := "attached"
		if res.VSAExisted {
			verb = "kept the existing"
		}
		fmt.Fprintf(msgs, "promoted %s to %s; %s verification summary %s\n", sd.srcRef, sd.dstName(), verb, res.VSA.Digest)
	}
	if out.JSON() {
		return nil
	}
	_, err := fmt.Fprintln(out.Stdout(c), sd.desc.Digest)
	return err
}

func countNodes(n *oci.Node) int {
	c := 1
	for _, r := range n.Referrers {
		c += countNodes(r)
	}
	return c
}

// cosignCopyJSON is promote's carrying of cosign's legacy attestations.
type cosignCopyJSON struct {
	Tag    string `json:"tag"`
	Layers int    `json:"layers"`
	Added  int    `json:"added"`
}
