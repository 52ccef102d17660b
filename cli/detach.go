package cli

import (
	"fmt"

	"github.com/opencontainers/go-digest"
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
)

func detachCommand() *cli.Command {
	var (
		remote option.Remote
		out    = option.NewOutput(option.TextJSON...)
	)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "detach",
		Usage:     "remove referrers from an image",
		ArgsUsage: "IMAGE DIGEST...",
		Description: `Each DIGEST (as discover or attach printed it) must be a referrer of IMAGE: its manifest's
subject is IMAGE's digest; anything else is refused, so detach never deletes an image or an
unrelated manifest. On registries with the referrers API the manifest is deleted; on registries
with the tag schema its entry is also removed from the sha256-<hex> index, safely beside
concurrent attaches. Detaching what is not attached does nothing. Prints each digest removed.
The registry must allow deletes.

Examples:
   referee detach localhost:5000/app:v1 sha256:228fa5fb9e43…
   referee discover localhost:5000/app:v1 --format json`,
		Flags: option.Flags(groups...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 2, -1, "IMAGE and one or more referrer DIGESTs"); err != nil {
				return err
			}
			var ds []digest.Digest
			for _, a := range c.Args().Slice()[1:] {
				d, err := digest.Parse(a)
				if err != nil {
					return option.Usagef("%q is not a digest (sha256:<64 hex digits>): %v", a, err)
				}
				ds = append(ds, d)
			}
			s, ref, desc, err := oci.OpenResolved(c.Context, c.Args().First(), remote.OCI())
			if err != nil {
				return err
			}
			res, err := oci.Detach(c.Context, s, desc, ds, oci.DetachOptions{MaxManifestBytes: remote.MaxManifestBytes})
			msgs := out.Stderr(c)
			var removed []string
			for _, d := range res {
				switch {
				case d.Missing:
					fmt.Fprintf(msgs, "%s is not attached to %s; nothing to do\n", d.Digest, ref)
				case d.Kept != "":
					fmt.Fprintf(msgs, "detached %s from %s (no longer listed; the manifest is still stored: %s)\n", d.Digest, ref, d.Kept)
					removed = append(removed, d.Digest.String())
				default:
					fmt.Fprintf(msgs, "detached %s from %s\n", d.Digest, ref)
					removed = append(removed, d.Digest.String())
				}
			}
			if out.JSON() {
				if werr := option.WriteJSON(out.Stdout(c), map[string]any{"image": ref.String(), "detached": res}); werr != nil {
					return werr
				}
				return err
			}
			for _, d := range removed {
				if _, werr := fmt.Fprintln(out.Stdout(c), d); werr != nil {
					return werr
				}
			}
			return err
		}, groups...),
	}
}
