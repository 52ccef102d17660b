package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
)

// attestJSON is `attest --format json`.
type attestJSON struct {
	Image         string `json:"image"`
	Referrer      string `json:"referrer"`
	PredicateType string `json:"predicateType"`
	KeyID         string `json:"keyid"`
	Existed       bool   `json:"existed"`
}

func attestCommand() *cli.Command {
	var (
		remote        option.Remote
		out           = option.NewOutput(option.TextJSON...)
		signer        = option.Signer{Usage: "private key that signs the statement (referee, in-toto or cosign key)"}
		predicateType string
		predicate     string
	)
	required := option.Check(func(c *cli.Context) error {
		if err := requireFlag(c, predicateType, "predicate-type"); err != nil {
			return err
		}
		return requireFlag(c, predicate, "predicate")
	})
	groups := []option.Group{required, &out, &remote, &signer}
	return &cli.Command{
		Name:      "attest",
		Usage:     "sign an in-toto Statement about an image (a scan, an SBOM, provenance) and attach it as a referrer",
		ArgsUsage: "IMAGE",
		Description: `Makes an in-toto Statement v1 whose subject is IMAGE's digest, whose predicate is the JSON
object in --predicate, of type --predicate-type (a URI), signs it in DSSE with --key and attaches
it to the image. Prints the referrer's digest. A layout's native check reads it with
"referee check --attestation TYPE --signed-by KEYID --cel EXPR"; cosign's attestations
(cosign attest, legacy and --new-bundle-format) are read the same way.

An encrypted cosign key (cosign generate-key-pair) takes its password from COSIGN_PASSWORD, or
asks on the terminal.

Examples:
   referee attest localhost:5000/app@sha256:… --predicate-type https://example.com/scan/v1 --predicate scan.json --key keys/scanner
   COSIGN_PASSWORD= referee attest localhost:5000/app:v1 --predicate-type https://spdx.dev/Document --predicate sbom.json --key cosign.key`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "predicate-type", Usage: "the predicate's type `URI` (required)", Destination: &predicateType},
			&cli.StringFlag{Name: "predicate", Usage: "the predicate: a JSON object `FILE` (required)", Destination: &predicate},
		}, option.Flags(groups...)...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one IMAGE"); err != nil {
				return err
			}
			if predicateType == attest.PredicateTypeLink {
				return option.Usagef("--predicate-type %s is a link: record it with referee run and attach that", attest.PredicateTypeLink)
			}
			data, err := readBounded(predicate, check.MaxDocumentBytes, "reads as a predicate")
			if err != nil {
				return fmt.Errorf("--predicate: %w", err)
			}
			s, ref, desc, err := oci.OpenResolved(c.Context, c.Args().First(), remote.OCI())
			if err != nil {
				return err
			}
			// The subject's name is the repository, as cosign writes it;
			// what binds is the digest.
			name := strings.TrimPrefix(ref.Name(), oci.LayoutPrefix)
			statement, err := attest.NewStatement(name, desc.Digest.String(), predicateType, data)
			if err != nil {
				return fmt.Errorf("%s: %w", predicate, err)
			}
			env, err := attest.SignStatement(statement, signer.Signers...)
			if err != nil {
				return err
			}
			file, err := env.Marshal()
			if err != nil {
				return err
			}
			a, err := oci.AttachStatement(c.Context, s, desc, file, oci.AttachStatementOptions{})
			if err != nil {
				return fmt.Errorf("attaching to %s: %w", ref, err)
			}
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), attestJSON{Image: ref.Name() + "@" + desc.Digest.String(), Referrer: a.Manifest.Digest.String(), PredicateType: predicateType, KeyID: signer.One().Key().KeyID, Existed: a.Existed})
			}
			_, err = fmt.Fprintln(out.Stdout(c), a.Manifest.Digest)
			return err
		}, groups...),
	}
}
