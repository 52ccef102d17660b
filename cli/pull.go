package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/oci"
)

func pullCommand() *cli.Command {
	var (
		remote option.Remote
		out    = option.NewOutput(option.TextJSON...)
		force  option.Force
		dir    string
	)
	groups := []option.Group{&out, &force, &remote}
	return &cli.Command{
		Name:      "pull",
		Usage:     "write an image's layout and links as files that in-toto-verify reads",
		ArgsUsage: "IMAGE",
		Description: `Writes root.layout and STEP.KEYID8.link files into --out, a sublayout's links into
STEP.KEYID8/. With several layouts attached, root.layout is the one of the highest version
(signatures are not checked: verify decides) and every layout is also written as
root.DIGEST12.layout. The paths written are printed on stdout. Each file is written as it was
attached: in-toto-verify (the Python reference) reads only Metablock, so for it attach files
made with --metablock (and keys it can read: RSA PEM, or referee key export). --out must be a
new or empty directory, so that no file from elsewhere passes for this image's evidence; with
--force files of the same names are replaced and others are left as they are. Artifacts
attached to the image (referee attach IMAGE FILE, run --attach-products) are written at their
paths, where in-toto-verify's inspections find them.

Examples:
   referee pull localhost:5000/app:v1 --out evidence/
   in-toto-verify -l evidence/root.layout -k owner.pub --link-dir evidence/`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "`DIR`ectory to write into (required)", Destination: &dir}),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one IMAGE"); err != nil {
				return err
			}
			if err := requireFlag(c, dir, "out"); err != nil {
				return err
			}
			// Files left from another pull would be read by in-toto-verify
			// as this image's evidence.
			if !force.Force {
				if err := checkEmptyDir(dir, "--out"); err != nil {
					return err
				}
			}
			s, ref, desc, err := oci.OpenResolved(c.Context, c.Args().First(), remote.OCI())
			if err != nil {
				return err
			}
			graph, b, err := oci.DiscoverAndGather(c.Context, s, desc, remote.Discover(), remote.MaxBlobBytes)
			if err != nil {
				return err
			}
			res, err := oci.WriteBundle(b, dir)
			if err != nil {
				return err
			}
			// The artifacts attached to the image (files links record), at
			// their paths, for inspections run by in-toto-verify.
			if err := oci.ArtifactsOf(s, graph, oci.ArtifactSetOptions{}).WriteFiles(c.Context, dir, res); err != nil {
				return err
			}
			msgs := out.Stderr(c)
			for _, sk := range res.Skipped {
				fmt.Fprintf(msgs, "skipped %s: %s\n", termsafe.Quote(sk.Digest), termsafe.Quote(sk.Reason))
			}
			atts, err := oci.BuildKitAttestations(c.Context, s, desc, remote.MaxManifestBytes)
			if err != nil {
				return err
			}
			var notWritten []string
			for _, a := range atts {
				notWritten = append(notWritten, a.Describe())
				fmt.Fprintf(msgs, "not written: %s (an unsigned BuildKit statement, not in-toto layout evidence)\n", a.Describe())
			}
			if res.Current != nil {
				fmt.Fprintln(msgs, res.Current.Note)
			}
			fmt.Fprintf(msgs, "pulled %s from %s\n", plural(len(res.Files), "file"), ref)
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), struct {
					Image string `json:"image"`
					*oci.PullResult
					NotWritten []string `json:"notWritten,omitempty"`
				}{ref.String(), res, notWritten})
			}
			for _, f := range res.Files {
				if _, err := fmt.Fprintln(out.Stdout(c), f.Path); err != nil {
					return err
				}
			}
			return nil
		}, groups...),
	}
}
