package cli

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
)

func attachCommand() *cli.Command {
	var (
		remote   option.Remote
		out      = option.NewOutput(option.TextJSON...)
		step     string
		metadata string
	)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "attach",
		Usage:     "attach signed layout and link files to an image as OCI referrers",
		ArgsUsage: "IMAGE FILE...",
		Description: `Each FILE (DSSE or Metablock, made by referee or the in-toto references) becomes a referrer
of IMAGE's digest. IMAGE is resolved once. The digest of each referrer is printed on stdout,
one per line; attaching a file that is already attached prints the existing referrer.

Examples:
   referee attach localhost:5000/app:v1 root.layout build.3cedfa21.link
   docker buildx build --push -t localhost:5000/app:v1 --metadata-file meta.json .
   referee attach --metadata-file meta.json root.layout build.3cedfa21.link`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "step", Usage: "attach a layout as the sublayout standing for this `STEP`", Destination: &step},
			&cli.StringFlag{Name: "metadata-file", Usage: "attach to the image a 'docker buildx build --push --metadata-file `FILE`' pushed; then every argument is a FILE", Destination: &metadata}),
		Action: action(func(c *cli.Context) error {
			args := c.Args().Slice()
			image := ""
			if metadata != "" {
				var err error
				if image, err = oci.ImageFromBuildxMetadata(metadata); err != nil {
					return err
				}
			} else if len(args) > 0 {
				image, args = args[0], args[1:]
			}
			if image == "" || len(args) == 0 {
				return option.Usagef("%s takes IMAGE (or --metadata-file) and one or more FILEs", fullName(c))
			}
			// Every file is read and checked before the registry is
			// asked anything.
			datas := make([][]byte, len(args))
			for i, f := range args {
				data, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				env, err := attest.ParseEnvelope(data)
				if err == nil {
					_, err = env.PayloadKind()
				}
				if err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				datas[i] = data
			}
			t, err := openTarget(c, image, remote.OCI())
			if err != nil {
				return err
			}
			res, err := t.attach(c.Context, out.Stderr(c), args, datas, oci.AttachOptions{Step: step})
			if out.JSON() && len(res) > 0 {
				if werr := option.WriteJSON(out.Stdout(c), map[string]any{"image": t.ref.String(), "attached": res}); werr != nil {
					return werr
				}
			} else {
				for _, a := range res {
					if _, werr := fmt.Fprintln(out.Stdout(c), a.Referrer); werr != nil {
						return werr
					}
				}
			}
			return err
		}, groups...),
	}
}
