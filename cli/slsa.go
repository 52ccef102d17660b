package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/slsa"
	"github.com/referee-dev/referee/verify"
)

// slsaJSON is `slsa --format json`: the image, the level with the reason
// for each requirement, and the verification report.
type slsaJSON struct {
	Image  string         `json:"image"`
	Digest string         `json:"digest"`
	SLSA   slsa.Result    `json:"slsa"`
	Report *verify.Report `json:"report,omitempty"`
}

func slsaCommand() *cli.Command {
	var (
		remote     option.Remote
		out        = option.NewOutput(option.TextJSON...)
		layoutKeys = option.PublicKeys{Name: "layout-key", Aliases: []string{"k"}, Usage: "layout owner public key; each must have signed the layout"}
		floors     floorFlags
		layout     string
	)
	required := option.Check(func(c *cli.Context) error {
		if !layoutKeys.Given() {
			return option.Usagef("--layout-key is required")
		}
		return nil
	})
	groups := []option.Group{required, &out, &layoutKeys, &remote, &floors}
	return &cli.Command{
		Name:      "slsa",
		Usage:     "the SLSA v1.0 Build level an image's verified evidence supports, with the reason for each requirement",
		ArgsUsage: "IMAGE",
		Description: `Verifies IMAGE as referee verify does, then says which SLSA Build track level
(https://slsa.dev/spec/v1.0/levels) the verified evidence supports: L1 the layout's build step
verified (provenance exists), L2 its links signed by a functionary the layout declares a hosted
build platform, L3 a hardened one. The layout spec declares them (slsa: {build: STEP, hosted:
[NAME], hardened: [NAME]}), so the owner signs what counts. The level is SLSA_BUILD_LEVEL_N.

Exit status: 0 verified (at any level, L0 included), 1 not verified, 2 usage or registry error.

Examples:
   referee slsa localhost:5000/app@sha256:… --layout-key owner.pub
   referee slsa localhost:5000/app:v1 --layout-key owner.pub --format json`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "layout", Aliases: []string{"l"}, Usage: "use this signed layout (a file or an OCI reference) instead of the attached ones", Destination: &layout},
		),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one IMAGE"); err != nil {
				return err
			}
			s, ref, desc, err := oci.OpenResolved(c.Context, c.Args().First(), remote.OCI())
			if err != nil {
				return err
			}
			o := verify.ImageOptions{Options: verify.Options{LayoutKeys: layoutKeys.Keys}, Discover: remote.Discover(), MaxBlobBytes: remote.MaxBlobBytes, MinLayoutVersion: floors.For(ref.Name())}
			if layout != "" {
				cand, err := layoutref.Load(c.Context, layout, remote.OCI())
				if err != nil {
					return err
				}
				o.Layout = &cand
			}
			w, res, verr := slsa.Image(c.Context, s, desc, o)
			if w == nil {
				return verr
			}
			res.Image = desc.Digest.String()
			if out.JSON() {
				if err := option.WriteJSON(out.Stdout(c), slsaJSON{Image: ref.String(), Digest: desc.Digest.String(), SLSA: res, Report: w.Report}); err != nil {
					return err
				}
				return out.Done(verr)
			}
			if verr != nil {
				if w.Report != nil {
					if err := w.Report.WriteText(out.Stderr(c)); err != nil {
						return err
					}
				}
				return out.Done(verr)
			}
			if err := res.WriteText(out.Stdout(c)); err != nil {
				return fmt.Errorf("writing the result: %w", err)
			}
			return nil
		}, groups...),
	}
}
