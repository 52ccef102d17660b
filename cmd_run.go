package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
)

// recordFlags are in-toto-run's artifact recording flags.
func recordFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "step-name", Aliases: []string{"n"}, Usage: "the layout step this link is evidence for (required)"},
		&cli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: "functionary private key, PEM or securesystemslib JSON (required)"},
		&cli.StringFlag{Name: "out", Aliases: []string{"d"}, Value: ".", Usage: "directory for the link file"},
		&cli.StringSliceFlag{Name: "lstrip-paths", Usage: "prefix to remove from recorded paths (repeatable)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "gitignore-style pattern of paths not to record (repeatable; replaces the defaults *.link*, .git, *.pyc, *~)"},
		&cli.BoolFlag{Name: "no-follow-symlink-dirs", Usage: "do not walk into symlinked directories"},
		&cli.BoolFlag{Name: "no-symlinks", Usage: "refuse to record anything behind a symlink"},
		metablockFlag,
	}
}

// loadStepSigner checks the flags every recording command needs and loads
// the functionary key.
func loadStepSigner(c *cli.Context) (*attest.Signer, error) {
	if err := requireFlags(c, "step-name", "key"); err != nil {
		return nil, err
	}
	// Before the step's command runs: its link must have somewhere to go.
	if err := os.MkdirAll(c.String("out"), 0o755); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	return attest.LoadSigner(c.String("key"))
}

func recordOptions(c *cli.Context) attest.RecordOptions {
	o := attest.RecordOptions{
		LStripPaths:       c.StringSlice("lstrip-paths"),
		FollowSymlinkDirs: !c.Bool("no-follow-symlink-dirs"),
		RefuseSymlinks:    c.Bool("no-symlinks"),
	}
	if c.IsSet("exclude") {
		o.ExcludePatterns = c.StringSlice("exclude")
	}
	o.Progress = progressLine(c, "hashing", "files")
	return o
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a step's command, record materials and products, and write the signed link",
		ArgsUsage: "-- COMMAND [ARGS...]",
		Description: `Records the materials (sha256), runs the command, records the products and the
command's stdout, stderr and exit code, and writes STEP.KEYID8.link into --out.
The path of the link is printed on stdout.

Example:
   referee run --step-name build --key keys/bob --materials src --products app.tar -- tar -cf app.tar src
   referee run --step-name build --key keys/bob -m src -p app.tar --attach localhost:5000/app:v1 -- tar -cf app.tar src`,
		Flags: append(append(recordFlags(),
			&cli.StringSliceFlag{Name: "materials", Aliases: []string{"m"}, Usage: "file or directory to record before the command (repeatable)"},
			&cli.StringSliceFlag{Name: "products", Aliases: []string{"p"}, Usage: "file or directory to record after the command (repeatable)"},
			attachFlag, metadataFlag, bindImageFlag,
		), registryFlags()...),
		Action: func(c *cli.Context) error {
			signer, err := loadStepSigner(c)
			if err != nil {
				return err
			}
			o := attest.RunOptions{
				StepName: c.String("step-name"), Command: c.Args().Slice(),
				Materials: c.StringSlice("materials"), Products: c.StringSlice("products"),
				Record: recordOptions(c), Stdout: c.App.ErrWriter, Stderr: c.App.ErrWriter,
			}
			link, err := attest.RunStep(c.Context, o)
			endProgress(c, o.Record.Progress)
			if err != nil {
				return fmt.Errorf("step %q: %w", o.StepName, err)
			}
			if rv, _ := link.Byproducts["return-value"].(int); rv != 0 {
				fmt.Fprintf(c.App.ErrWriter, "warning: %q exited with %d; recorded in the link\n", o.Command[0], rv)
			}
			t, err := bindTarget(c, link)
			if err != nil {
				return err
			}
			return writeLink(c, link, signer, "", t)
		},
	}
}

// writeLink signs link and writes it to path, by default STEP.KEYID8.link
// in --out; it prints the path.
func writeLink(c *cli.Context, link *attest.Link, signer *attest.Signer, path string, t *target) error {
	payload, err := link.Marshal()
	if err != nil {
		return err
	}
	env, err := attest.SignPayload(formOf(c), payload, signer)
	if err != nil {
		return err
	}
	if path == "" {
		path = filepath.Join(c.String("out"), attest.LinkFileName(link.Name, signer.Key().KeyID))
	}
	data, err := writeEnvelope(path, env, true)
	if err != nil {
		return err
	}
	return published(c, t, path, data)
}

// bindImageFlag records the image being attached to as a product.
var bindImageFlag = &cli.BoolFlag{Name: "bind-image", Usage: "record the --attach image's manifest as the product " + attest.ImageArtifact + " (binds the link to that image; the layout names it in the step's expected_products)"}

// bindTarget resolves --attach once, after the step's command ran (it may
// have pushed the image), and with --bind-image records the image in the
// link's products.
func bindTarget(c *cli.Context, link *attest.Link) (*target, error) {
	image, err := attachImage(c)
	if err != nil {
		return nil, err
	}
	if c.Bool("bind-image") && image == "" {
		return nil, usagef("--bind-image needs --attach IMAGE or --metadata-file FILE")
	}
	t, err := openTarget(c, image)
	if err != nil || t == nil || !c.Bool("bind-image") {
		return t, err
	}
	alg, hex, _ := strings.Cut(t.desc.Digest.String(), ":")
	if alg != "sha256" {
		return nil, fmt.Errorf("%s: only sha256 image digests can be recorded", t.ref)
	}
	if link.Products == nil {
		link.Products = map[string]attest.HashObj{}
	}
	link.Products[attest.ImageArtifact] = attest.HashObj{"sha256": hex}
	return t, nil
}

func unfinishedPath(c *cli.Context, signer *attest.Signer) string {
	return filepath.Join(c.String("out"), "."+attest.LinkFileName(c.String("step-name"), signer.Key().KeyID)+"-unfinished")
}

func recordCommand() *cli.Command {
	return &cli.Command{
		Name:  "record",
		Usage: "record a step that is not one command: start before it, stop after it",
		Description: `start records the materials into a signed .STEP.KEYID8.link-unfinished; stop checks it,
records the products and writes STEP.KEYID8.link.

Example:
   referee record start --step-name review --key keys/alice --materials src
   … work …
   referee record stop --step-name review --key keys/alice --products src`,
		Subcommands: []*cli.Command{
			{
				Name:  "start",
				Usage: "record the materials of a step",
				Flags: append(recordFlags(),
					&cli.StringSliceFlag{Name: "materials", Aliases: []string{"m"}, Usage: "file or directory to record (repeatable)"}),
				Action: func(c *cli.Context) error {
					signer, err := loadStepSigner(c)
					if err != nil {
						return err
					}
					ro := recordOptions(c)
					link, err := attest.StartStep(c.Context, attest.RunOptions{StepName: c.String("step-name"), Materials: c.StringSlice("materials"), Record: ro})
					endProgress(c, ro.Progress)
					if err != nil {
						return err
					}
					return writeLink(c, link, signer, unfinishedPath(c, signer), nil)
				},
			},
			{
				Name:  "stop",
				Usage: "record the products of a started step and write its link",
				Flags: append(append(recordFlags(),
					&cli.StringSliceFlag{Name: "products", Aliases: []string{"p"}, Usage: "file or directory to record (repeatable)"},
					attachFlag, metadataFlag, bindImageFlag), registryFlags()...),
				Action: func(c *cli.Context) error {
					signer, err := loadStepSigner(c)
					if err != nil {
						return err
					}
					path := unfinishedPath(c, signer)
					env, err := attest.ReadEnvelopeFile(path, attest.DefaultMaxFileSize)
					if err != nil {
						return fmt.Errorf("no started step %q for this key (run record start first): %w", c.String("step-name"), err)
					}
					if err := env.VerifyKey(signer.Key()); err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					link, err := attest.ParseLink(env.Payload)
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					ro := recordOptions(c)
					err = attest.StopStep(c.Context, link, attest.RunOptions{Products: c.StringSlice("products"), Record: ro})
					endProgress(c, ro.Progress)
					if err != nil {
						return err
					}
					t, err := bindTarget(c, link)
					if err != nil {
						return err
					}
					if err := writeLink(c, link, signer, "", t); err != nil {
						return err
					}
					return os.Remove(path)
				},
			},
		},
	}
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign a link or layout: add a signature to an envelope, or wrap and sign an unsigned document",
		ArgsUsage: "FILE",
		Description: `FILE is a signed envelope (DSSE or Metablock; the signature is added in the same form)
or an unsigned link or layout (bare JSON; wrapped as DSSE, or Metablock with --metablock).

Example:
   referee sign --key keys/alice --out build.link unsigned-build.json`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "key", Aliases: []string{"k"}, Usage: "private key; repeat for several"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write here instead of replacing FILE"},
			metablockFlag,
		},
		Action: func(c *cli.Context) error { return signFile(c, "") },
	}
}

// signFile signs the one file argument; want restricts the payload _type.
func signFile(c *cli.Context, want string) error {
	if c.NArg() != 1 {
		return usagef("takes one FILE")
	}
	in := c.Args().First()
	signers, err := loadSigners(c, "key")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	env, err := attest.ParseEnvelope(data)
	if err != nil {
		// Not an envelope: an unsigned document to wrap.
		var kindErr error
		env = attest.NewEnvelope(formOf(c), bytes.TrimSpace(data))
		if _, kindErr = env.PayloadKind(); kindErr != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
	}
	kind, err := env.PayloadKind()
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	switch {
	case want != "" && kind != want:
		return fmt.Errorf("%s: is a %q document, not a %s", in, kind, want)
	case kind == "layout":
		_, err = attest.ParseLayout(env.Payload)
	case kind == "link":
		_, err = attest.ParseLink(env.Payload)
	default:
		err = errors.New("not an in-toto link or layout (_type " + kind + ")")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	for _, s := range signers {
		if err := env.Sign(s); err != nil {
			return err
		}
	}
	out := c.String("out")
	if out == "" {
		out = in
	}
	if _, err := writeEnvelope(out, env, true); err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.App.Writer, out)
	return err
}
