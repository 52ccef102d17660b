package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
)

func layoutCommand() *cli.Command {
	return &cli.Command{
		Name:  "layout",
		Usage: "create, sign and show in-toto layouts",
		Description: `Examples:
   referee layout create --spec layout.yaml --key keys/owner --out root.layout
   referee layout show root.layout
   referee layout lint layout.yaml`,
		Subcommands: []*cli.Command{layoutCreateCommand(), layoutSignCommand(), layoutShowCommand(), layoutLintCommand()},
	}
}

func layoutCreateCommand() *cli.Command {
	var (
		remote   option.Remote
		out      = option.NewOutput(option.TextJSON...)
		signer   = option.Signer{Usage: "owner private key that signs the layout", Multiple: true}
		envelope option.Envelope
		force    option.Force
		target   option.Attach
		spec     string
		outPath  string
	)
	required := option.Check(func(c *cli.Context) error { return requireFlag(c, spec, "spec") })
	groups := []option.Group{required, &out, &envelope, &force, &target, &remote, &signer}
	return &cli.Command{
		Name:  "create",
		Usage: "build a layout from a YAML spec and sign it with the owner key(s)",
		Description: `The spec names the expiry, the functionaries' public-key files (relative to the spec),
the steps with their rules, and inspections (see docs/layout-spec.md). Prints the layout's
path, or with --attach the referrer's digest.

Examples:
   referee layout create --spec layout.yaml --key keys/owner --out root.layout
   referee layout create --spec layout.yaml --key keys/owner --attach localhost:5000/app:v1`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "spec", Aliases: []string{"s"}, Usage: "layout spec `FILE` (YAML; required)", Destination: &spec},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "root.layout", Usage: "where to write the signed layout", Destination: &outPath},
		}, option.Flags(groups...)...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 0, 0, "no arguments (the spec is --spec FILE)"); err != nil {
				return err
			}
			layout, findings, err := layoutFromSpec(spec)
			if err != nil {
				return err
			}
			payload, err := layout.Marshal()
			if err != nil {
				return err
			}
			env, err := attest.SignPayload(envelope.Form(), payload, signer.Signers...)
			if err != nil {
				return err
			}
			t, err := openTarget(c, target.Image, remote.OCI())
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			written, err := writeEnvelope(outPath, env, force.Force)
			if err != nil {
				return err
			}
			writeFindings(out.Stderr(c), "lint: ", findings)
			fmt.Fprintf(out.Stderr(c), "layout: %s, %s, expires %s\n", plural(len(layout.Steps), "step"), plural(len(layout.Inspect), "inspection"), layout.Expires)
			return published(c, &out, t, "", outPath, written)
		}, groups...),
	}
}

// layoutFromSpec reads a spec file and builds its layout (key files are
// relative to the spec), with what layout lint finds in it.
func layoutFromSpec(specPath string) (*attest.Layout, []attest.Finding, error) {
	data, err := os.ReadFile(specPath)
	if err != nil {
		return nil, nil, err
	}
	spec, err := attest.ParseSpec(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", specPath, err)
	}
	now := time.Now()
	keys := specKeyLoader(specPath)
	layout, err := spec.Layout(keys, now)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", specPath, err)
	}
	findings, err := attest.LintSpec(spec, keys, attest.LintOptions{Now: now})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", specPath, err)
	}
	// A native check that can never pass is an error, not a warning: the
	// owner would sign a layout no image verifies.
	checks := checkFindings(layout)
	for _, f := range checks {
		if f.Rule == lintCheckInvalid {
			return nil, nil, fmt.Errorf("%s: %s", specPath, f.Message)
		}
	}
	return layout, append(findings, checks...), nil
}

func layoutSignCommand() *cli.Command {
	return signCommandFor("layout", "add owner signatures to an existing layout", `Examples:
   referee layout sign --key keys/owner2 root.layout
   referee layout sign --key keys/owner2 --out signed.layout root.layout`)
}

func layoutShowCommand() *cli.Command {
	return shower[*attest.Layout]{kind: "layout", parse: attest.ParseLayout, text: attest.WriteLayoutText}.command("LAYOUT",
		`LAYOUT is a file or an OCI reference to a manifest holding one (a referrer's digest, as
discover shows it, or a policy repository's tag). --format json prints the layout itself with
where it came from and who claims to have signed it.

Examples:
   referee layout show root.layout
   referee layout show localhost:5000/app@sha256:5f4d4d8d75d0… --format json`)
}
