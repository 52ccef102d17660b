package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
)

// stepFlags are in-toto-run's flags for a step and its recording, with its
// short names (-n -k -d), shared by run and record start|stop.
type stepFlags struct {
	signer option.Signer

	Name       string
	OutDir     string
	lstrip     cli.StringSlice
	exclude    cli.StringSlice
	noFollow   bool
	noSymlinks bool
}

func newStepFlags() *stepFlags {
	return &stepFlags{signer: option.Signer{Usage: "functionary private key, PEM or securesystemslib JSON (required)"}}
}

func (o *stepFlags) Flags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "step-name", Aliases: []string{"n"}, Usage: "the layout step this link is evidence for (required)", Destination: &o.Name},
		&cli.StringFlag{Name: "out", Aliases: []string{"d", "metadata-directory"}, Value: ".", Usage: "`DIR`ectory for the link file", Destination: &o.OutDir},
		&cli.StringSliceFlag{Name: "lstrip-paths", Usage: "`PREFIX` to remove from recorded paths (repeatable)", Destination: &o.lstrip},
		&cli.StringSliceFlag{Name: "exclude", Usage: "gitignore-style `PATTERN` of paths not to record (repeatable; replaces the defaults *.link*, .git, *.pyc, *~)", Destination: &o.exclude},
		&cli.BoolFlag{Name: "no-follow-symlink-dirs", Usage: "do not walk into symlinked directories", Destination: &o.noFollow},
		&cli.BoolFlag{Name: "no-symlinks", Usage: "refuse to record anything behind a symlink", Destination: &o.noSymlinks},
	}, o.signer.Flags()...)
}

// Parse checks everything that can be checked before a step's command
// runs: the step name (it becomes the link's file name), the key, and that
// the link has somewhere to go.
func (o *stepFlags) Parse(c *cli.Context) error {
	if o.Name == "" {
		return option.Usagef("--step-name is required (see %s --help)", fullName(c))
	}
	if err := attest.ValidateStepName(o.Name); err != nil {
		return option.UsageError{Err: fmt.Errorf("--step-name: %w", err)}
	}
	if err := o.signer.Parse(c); err != nil {
		return err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

func (o *stepFlags) Signer() *attest.Signer { return o.signer.One() }

func (o *stepFlags) record(c *cli.Context, quiet bool) attest.RecordOptions {
	r := attest.RecordOptions{
		LStripPaths:       o.lstrip.Value(),
		FollowSymlinkDirs: !o.noFollow,
		RefuseSymlinks:    o.noSymlinks,
		Progress:          progressLine(c, quiet, "hashing", "file"),
	}
	if c.IsSet("exclude") {
		r.ExcludePatterns = o.exclude.Value()
	}
	return r
}

// linkPath is where the step's link goes: STEP.KEYID8.link in --out.
func (o *stepFlags) linkPath() string {
	return filepath.Join(o.OutDir, attest.LinkFileName(o.Name, o.Signer().Key().KeyID))
}

// unfinishedPath is record start's file: .STEP.KEYID8.link-unfinished.
func (o *stepFlags) unfinishedPath() string {
	return filepath.Join(o.OutDir, "."+attest.LinkFileName(o.Name, o.Signer().Key().KeyID)+"-unfinished")
}

// linkFlags are the flags of the commands that finish a link (run, record
// stop): the step, the output, the envelope form, and where to attach it.
type linkFlags struct {
	remote   option.Remote
	out      option.Output
	envelope option.Envelope
	target   option.Attach
	step     *stepFlags
}

func newLinkFlags() *linkFlags {
	return &linkFlags{out: option.NewOutput(option.TextJSON...), target: option.Attach{Bind: true}, step: newStepFlags()}
}

// groups are parsed cheapest first: flag checks before the key is read.
func (f *linkFlags) groups() []option.Group {
	return []option.Group{&f.out, &f.envelope, &f.target, &f.remote, f.step, option.Check(f.check)}
}

// check refuses, before the step runs, what cannot be done after it:
// products recorded under stripped names are not at those paths, so
// they cannot be attached under them.
func (f *linkFlags) check(*cli.Context) error {
	if f.target.AttachProducts && len(f.step.lstrip.Value()) > 0 {
		return option.Usagef("--attach-products attaches each product at the path its link records; with --lstrip-paths the files are not there (attach them with referee attach --name PATH IMAGE FILE)")
	}
	return nil
}

func (f *linkFlags) finish(c *cli.Context, link *attest.Link) error {
	return finishLink(c, &f.out, f.step, f.envelope.Form(), &f.target, &f.remote, link)
}

// finishLink binds the link to the --attach image (with --bind-image: the
// image is resolved now, after the step, which may have pushed it), signs
// it, writes it and attaches it.
func finishLink(c *cli.Context, out *option.Output, step *stepFlags, form attest.Form, att *option.Attach, remote *option.Remote, link *attest.Link) error {
	var t *target
	var err error
	if att.BindImage {
		if t, err = openTarget(c, att.Image, remote.OCI()); err != nil {
			return fmt.Errorf("binding the link to the image (the step ran; no link written): %w", err)
		}
		if err := bindImage(link, t); err != nil {
			return err
		}
	}
	payload, err := link.Marshal()
	if err != nil {
		return err
	}
	path := step.linkPath()
	data, err := signAndWrite(path, form, payload, true, step.Signer())
	if err != nil {
		return err
	}
	if t == nil && att.Image != "" {
		if t, err = openTarget(c, att.Image, remote.OCI()); err != nil {
			return fmt.Errorf("%w (the link is written: referee attach %s %s)", err, att.Image, path)
		}
	}
	if err := published(c, out, t, link.Name, path, data); err != nil {
		return err
	}
	if att.AttachProducts {
		return attachProducts(c, out, t, link)
	}
	return nil
}

// attachProducts attaches each product the link records (but the image)
// as an artifact referrer of the image, refusing a file that changed
// since it was recorded; what is attached is said on stderr, so that
// stdout keeps the link's referrer alone.
func attachProducts(c *cli.Context, out *option.Output, t *target, link *attest.Link) error {
	paths := make([]string, 0, len(link.Products))
	for p := range link.Products {
		if p != attest.ImageArtifact {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := readBounded(p, oci.DefaultMaxArtifactBytes, "attaches")
		if err != nil {
			return fmt.Errorf("attaching product %s (the link is attached): %w", p, err)
		}
		o := oci.ArtifactOptions{SHA256: link.Products[p]["sha256"], Step: link.Name}
		if _, err := t.attachOne(out.Stderr(c), p, "artifact", func() (oci.Attached, error) {
			return oci.AttachArtifact(c.Context, t.s, t.desc, p, data, o)
		}); err != nil {
			return fmt.Errorf("%w (the link is attached; retry with referee attach %s %s)", err, t.ref, p)
		}
	}
	return nil
}

// bindImage records the image in the link's products.
func bindImage(link *attest.Link, t *target) error {
	if t.desc.Digest.Algorithm() != "sha256" {
		return fmt.Errorf("%s: only sha256 image digests can be recorded", t.ref)
	}
	if link.Products == nil {
		link.Products = map[string]attest.HashObj{}
	}
	link.Products[attest.ImageArtifact] = attest.HashObj{"sha256": t.desc.Digest.Encoded()}
	return nil
}

// checkAttachable makes sure, before a step's command runs, that the
// --attach registry answers (or the OCI layout exists), so that a step is
// not run for nothing.
func checkAttachable(c *cli.Context, att *option.Attach, remote *option.Remote) error {
	if att.Image == "" {
		return nil
	}
	if err := oci.CheckReachable(c.Context, att.Image, remote.OCI()); err != nil {
		return fmt.Errorf("--attach (checked before running the step): %w", err)
	}
	return nil
}

// removeUnfinished removes record start's file once its link is written.
func removeUnfinished(path string) error {
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("the link is written, but %w", err)
	}
	return nil
}
