package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/demo"
	"github.com/referee-dev/referee/oci"
)

func demoCommand() *cli.Command {
	var (
		out      = option.NewOutput()
		force    option.Force
		remote   option.Remote
		keep     string
		registry string
	)
	groups := []option.Group{&out, &force, &remote}
	return &cli.Command{
		Name:  "demo",
		Usage: "run a supply chain end to end against a registry: record, attach, verify (pass), replay onto another image (refused)",
		Description: `Creates keys and a layout, records checkout, build and push steps (push builds a small OCI
image from the build's output and pushes it), attaches the layout and links to the image as
referrers, prints the referrer graph and verifies the image from the registry alone. Then it
copies the same evidence onto another image and shows that verification refuses it.

It uses referee's embedded registry unless --registry is given. The narration goes to stderr;
the last line on stdout is the verified image's digest reference. Exits 0 when both outcomes
are as expected. --keep DIR must be a new or empty directory (or --force).

Examples:
   referee demo
   referee demo --registry localhost:5000/demo --keep ./demo   # keys stay in ./demo (owner.pub)
   referee verify "$(referee demo --registry localhost:5000/demo --keep ./demo)" --layout-key ./demo/owner.pub`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "keep", Usage: "work in this `DIR`ectory and leave the keys there (default: a temporary directory, removed)", Destination: &keep},
			&cli.StringFlag{Name: "registry", Usage: "`HOST[:PORT]/REPO` to use instead of the embedded registry", Destination: &registry},
		),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 0, 0, "no arguments"); err != nil {
				return err
			}
			if registry != "" {
				if _, err := oci.ParseReference(registry + ":demo"); err != nil || !strings.Contains(registry, "/") {
					return option.Usagef("--registry %q: want HOST[:PORT]/REPO, e.g. localhost:5000/demo", registry)
				}
				if err := oci.CheckReachable(c.Context, registry+":demo", remote.OCI()); err != nil {
					return fmt.Errorf("--registry: %w", err)
				}
			}
			if keep != "" && !force.Force {
				if err := checkEmptyDir(keep, "--keep"); err != nil {
					return err
				}
			}
			ref, err := demo.Run(c.Context, demo.Options{Dir: keep, Registry: registry, Log: out.Stderr(c), OCI: remote.OCI()})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(out.Stdout(c), ref)
			return err
		}, groups...),
	}
}
