package cli

import (
	"bytes"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
)

func signCommand() *cli.Command {
	return signCommandFor("", "sign a link or layout: add a signature to an envelope, or wrap and sign an unsigned document", `FILE is a signed envelope (DSSE or Metablock; the signature is added in the same form)
or an unsigned link or layout (bare JSON; wrapped as DSSE, or Metablock with --metablock).
Prints the path written.

Examples:
   referee sign --key keys/alice --out build.link unsigned-build.json
   referee sign --key keys/carol build.3cedfa21.link`)
}

// signCommandFor is `sign`, or `layout sign` when kind is "layout": the
// one FILE argument is signed by every --key; kind restricts what it may be.
func signCommandFor(kind, usage, description string) *cli.Command {
	var (
		out      = option.NewOutput(option.TextJSON...)
		signer   = option.Signer{Usage: "private key to sign with", Multiple: true}
		envelope option.Envelope
		force    option.Force
		outPath  string
	)
	groups := []option.Group{&out, &envelope, &force, &signer}
	argName := "FILE"
	if kind != "" {
		argName = "LAYOUT"
	}
	return &cli.Command{
		Name:        "sign",
		Usage:       usage,
		ArgsUsage:   argName,
		Description: description,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write to this `FILE` instead of replacing " + argName + " (an existing FILE only with --force)", Destination: &outPath}),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one "+argName); err != nil {
				return err
			}
			in := c.Args().First()
			env, err := readForSigning(in, kind, envelope.Form())
			if err != nil {
				return err
			}
			if envelope.Metablock && env.Form != attest.FormMetablock {
				return option.Usagef("%s is a DSSE envelope: a signature is added in the envelope's own form (--metablock applies to an unsigned document; re-create it with --metablock instead)", in)
			}
			for _, s := range signer.Signers {
				if err := env.Sign(s); err != nil {
					return err
				}
			}
			replace := outPath == "" || force.Force
			if outPath == "" {
				outPath = in
			}
			if _, err := writeEnvelope(outPath, env, replace); err != nil {
				return err
			}
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), map[string]any{"file": outPath, "signatures": env.SignerKeyIDs()})
			}
			_, err = fmt.Fprintln(out.Stdout(c), outPath)
			return err
		}, groups...),
	}
}

// readForSigning reads an envelope, or an unsigned document to wrap in
// form, and checks that it is a valid link or layout (of kind, if given).
func readForSigning(in, kind string, form attest.Form) (*attest.Envelope, error) {
	data, err := os.ReadFile(in)
	if err != nil {
		return nil, err
	}
	env, err := attest.ParseEnvelope(data)
	if err != nil {
		// Not an envelope: an unsigned document to wrap.
		env = attest.NewEnvelope(form, bytes.TrimSpace(data))
		if _, kindErr := env.PayloadKind(); kindErr != nil {
			return nil, fmt.Errorf("%s: %w", in, err)
		}
	}
	got, err := env.PayloadKind()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	switch {
	case kind != "" && got != kind:
		return nil, fmt.Errorf("%s: is a %q document, not a %s", in, got, kind)
	case got == "layout":
		_, err = attest.ParseLayout(env.Payload)
	case got == "link":
		_, err = attest.ParseLink(env.Payload)
	default:
		err = fmt.Errorf("not an in-toto link or layout (_type %q)", got)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	return env, nil
}
