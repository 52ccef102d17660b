package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
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
	return shower[*attest.Link]{kind: "link", parse: attest.ParseLink, text: attest.WriteLinkText}.command("LINK",
		`LINK is a file or an OCI reference to a referrer holding one (discover shows their digests).
Prints the step, the claimed signers, the command, every material and product with its
hashes, and the byproducts; --format json prints the link itself with where it came from.

Examples:
   referee link show build.3cedfa21.link
   referee link show localhost:5000/app@sha256:6a75b989ea04… --format json`)
}
