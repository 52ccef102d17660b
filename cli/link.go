package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
)

func linkCommand() *cli.Command {
	return &cli.Command{
		Name:  "link",
		Usage: "show in-toto links",
		Description: `Example:
   referee link show build.3cedfa21.link`,
		Subcommands: []*cli.Command{linkShowCommand()},
	}
}

func linkShowCommand() *cli.Command {
	var remote option.Remote
	out := option.NewOutput(option.TextJSON...)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "show",
		Usage:     "print a link readably (signatures are listed, not verified)",
		ArgsUsage: "LINK",
		Description: `LINK is a file or an OCI reference to a referrer holding one (discover shows their digests).
Prints the step, the claimed signers, the command, every material and product with its
hashes, and the byproducts; --format json prints the link itself with where it came from.

Examples:
   referee link show build.3cedfa21.link
   referee link show localhost:5000/app@sha256:6a75b989ea04… --format json`,
		Flags: option.Flags(groups...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one LINK (a file or an OCI reference)"); err != nil {
				return err
			}
			src, env, err := oci.ReadDocument(c.Context, c.Args().First(), "link", remote.OCI())
			if err != nil {
				return err
			}
			link, err := attest.ParseLink(env.Payload)
			if err != nil {
				return fmt.Errorf("%s: %w", src, err)
			}
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), documentJSON{Source: src, Form: env.Form.String(), Signatures: env.SignerKeyIDs(), Document: link})
			}
			return attest.WriteLinkText(out.Stdout(c), link, env)
		}, groups...),
	}
}
