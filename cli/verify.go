package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/verify"
)

// verifyFlags are verify's flags; the layout flags have in-toto-verify's
// short names (-l -k -d).
type verifyFlags struct {
	remote     option.Remote
	out        option.Output
	layoutKeys option.PublicKeys
	vsaKeys    option.PublicKeys

	layout         string
	linkDir        string
	runInspections bool
	inspectionDir  string
	vsaMaxAge      time.Duration
	parallel       int
	floors         floorFlags
}

func verifyCommand() *cli.Command {
	f := &verifyFlags{
		out:        option.NewOutput(option.TextJSON...),
		layoutKeys: option.PublicKeys{Name: "layout-key", Aliases: []string{"k", "layout-keys"}, Usage: "layout owner public key; each must have signed the layout"},
		vsaKeys:    option.PublicKeys{Name: "vsa-key", Usage: "accept a verification summary signed by this promoter public key"},
	}
	f.out.FailJSON = func(err error) any {
		j := verifyJSON{}
		setErr(&j, err)
		return j
	}
	f.remote.PerImage = true
	groups := []option.Group{&f.out, &f.layoutKeys, &f.vsaKeys, &f.remote, &f.floors}
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify a supply chain: an image from its registry, or a layout and a directory of links",
		ArgsUsage: "[IMAGE... | -]",
		Description: `With IMAGE (HOST/REPO:TAG, HOST/REPO@DIGEST or oci-layout:PATH[:TAG]): resolves it once, reads
its referrer graph, picks the layout (--layout FILE or OCI reference; else the highest-version
layout attached to the image that every --layout-key signed) and evaluates it on the links
found there. The evidence must be bound to the image: the layout names the artifact
` + attest.ImageArtifact + ` in a step's expected_products and that step's link records the image
(referee run --attach IMAGE --bind-image).

With --vsa-key, a verification summary attached by 'referee promote' and signed by that key,
about this exact digest, is accepted in a few requests; without one, full verification follows
when --layout-key is given.

Several IMAGEs, or - to read references from stdin (one per line), are checked concurrently
(--parallel); stdout then has one line per image in input order ("VERIFIED ref@digest",
"NOT-VERIFIED ref@digest: reason", "ERROR ref: reason", "SKIPPED ref: reason" for the
sha256-<hex> tags of the referrers tag schema, which are not images), or one JSON object per
line with --format json.

Without IMAGE: the equivalent of in-toto-verify on --layout and the STEP.KEYID8.link files of
--link-dir (sublayout links in STEP.KEYID8/).

Inspections that run commands are refused unless --run-inspections is given; from a registry
they run in a fresh empty directory holding the artifacts attached to the image (referee attach
IMAGE FILE) whose path and sha256 a verified link records, never in the working directory.
Native checks (an inspection whose run is "referee check --cel …") run in every verification,
with no command executed.

--format json prints one object in every outcome: image, digest, verified, and reason (not
verified) or error (could not be checked), failures, vsa and the full report. --quiet prints
nothing but errors: the exit status says the outcome.

Exit status: 0 verified, 1 not verified, 2 usage, input, network or registry error.

Examples:
   referee verify localhost:5000/app@sha256:… --layout-key owner.pub
   referee verify prod.example.com/app@sha256:… --vsa-key promoter.pub
   crane ls localhost:5000/app | sed 's|^|localhost:5000/app:|' | referee verify - --layout-key owner.pub
   referee verify -l root.layout -k keys/owner.pub -d links/`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "layout", Aliases: []string{"l"}, Usage: "signed layout: a file, or an OCI reference to one (required without IMAGE)", Destination: &f.layout},
			&cli.StringFlag{Name: "link-dir", Aliases: []string{"d"}, Usage: "`DIR`ectory of link files (without IMAGE; default .)", Destination: &f.linkDir},
			&cli.BoolFlag{Name: "run-inspections", Usage: "run the layout's inspection commands (locally in --inspection-dir; with IMAGE in a fresh directory of its artifacts)", Destination: &f.runInspections},
			&cli.StringFlag{Name: "inspection-dir", Value: ".", Usage: "working `DIR`ectory of inspections and native checks (without IMAGE)", Destination: &f.inspectionDir},
			&cli.DurationFlag{Name: "vsa-max-age", Usage: "refuse verification summaries older than this `DURATION` (e.g. 720h)", Destination: &f.vsaMaxAge},
			&cli.IntFlag{Name: "parallel", Value: promote.DefaultParallel, Usage: "images checked at once when several are given", Destination: &f.parallel},
		),
		Action: action(func(c *cli.Context) error {
			return f.out.Done(f.run(c))
		}, groups...),
	}
}

func (f *verifyFlags) run(c *cli.Context) error {
	images := c.Args().Slice()
	if !f.layoutKeys.Given() && !f.vsaKeys.Given() {
		return option.Usagef("--layout-key is required (or --vsa-key with an IMAGE)")
	}
	if len(images) == 0 {
		return f.local(c)
	}
	if !f.layoutKeys.Given() && f.layout != "" {
		return option.Usagef("--layout needs --layout-key: the layout's signatures must be checked")
	}
	if f.linkDir != "" {
		return option.Usagef("--link-dir is for local verification; with IMAGE the links come from the registry")
	}
	if c.IsSet("inspection-dir") {
		return option.Usagef("--inspection-dir is for local verification; with IMAGE, inspections run in a fresh directory holding the image's attached artifacts")
	}
	if f.vsaMaxAge < 0 {
		return option.Usagef("--vsa-max-age must not be negative (e.g. 720h)")
	}
	if f.parallel < 1 {
		return option.Usagef("--parallel must be at least 1")
	}
	batch := len(images) > 1
	if len(images) == 1 && images[0] == "-" {
		var err error
		if images, err = readRefs(c.App.Reader); err != nil {
			return err
		}
		if len(images) == 0 {
			return option.Usagef("no image references on stdin")
		}
		batch = true
	}
	co, err := f.checkOptions(c)
	if err != nil {
		return err
	}
	if batch {
		return f.many(c, images, co)
	}
	return f.one(c, images[0], co)
}

// engineOptions are the verification options shared by local and image
// verification.
// Locally, inspections run in --inspection-dir and native checks read
// it; from a registry, inspections run in a fresh directory holding the
// attached artifacts that verified links record (never the caller's
// working directory), and native checks read those artifacts.
func (f *verifyFlags) engineOptions(image bool) verify.Options {
	o := verify.Options{LayoutKeys: f.layoutKeys.Keys}
	if !image {
		o.Artifacts = verify.DirArtifacts(f.inspectionDir)
	}
	if f.runInspections {
		if image {
			o.Inspector = &verify.ArtifactInspector{}
		} else {
			o.Inspector = &verify.CommandInspector{Dir: f.inspectionDir}
		}
	}
	return o
}

// checkOptions turns the flags into promote.CheckOptions.
func (f *verifyFlags) checkOptions(c *cli.Context) (promote.CheckOptions, error) {
	co := promote.CheckOptions{OCI: f.remote.OCI(), VSAKeys: f.vsaKeys.Keys, VSAMaxAge: f.vsaMaxAge, Deadline: f.remote.Deadline, Floors: f.floors.Floors}
	if f.layoutKeys.Given() {
		co.Full = verify.ImageOptions{Options: f.engineOptions(true), Discover: f.remote.Discover(), MaxBlobBytes: f.remote.MaxBlobBytes}
	}
	if f.layout != "" {
		cand, err := layoutref.Load(c.Context, f.layout, f.remote.OCI())
		if err != nil {
			return co, err
		}
		co.Full.Layout = &cand
	}
	return co, nil
}

// verifyJSON is verify's --format json object, one per image in batch
// mode, with the same fields in every outcome.
type verifyJSON struct {
	// Image is the reference as given; Layout the layout file (local).
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	Layout string `json:"layout,omitempty"`
	// Verified is true when accepted.
	Verified bool `json:"verified"`
	// Reason says why it was not verified; Error why it could not be
	// checked; Skipped why it was not checked at all (batch).
	Reason   string           `json:"reason,omitempty"`
	Error    string           `json:"error,omitempty"`
	Skipped  string           `json:"skipped,omitempty"`
	Failures []verify.Failure `json:"failures,omitempty"`
	VSA      *vsaJSON         `json:"vsa,omitempty"`
	Report   *verify.Report   `json:"report,omitempty"`
}

type vsaJSON struct {
	Referrer     string    `json:"referrer"`
	KeyID        string    `json:"keyid"`
	Result       string    `json:"result"`
	Layout       string    `json:"layout"`
	Levels       []string  `json:"levels"`
	TimeVerified time.Time `json:"timeVerified"`
}

// outcomeJSON describes one image's outcome.
func outcomeJSON(out promote.Outcome, withReport bool) verifyJSON {
	j := verifyJSON{Image: out.Ref, Digest: out.Image, Verified: out.Err == nil}
	setErr(&j, out.Err)
	if out.VSA != nil {
		s := out.VSA.Summary
		j.VSA = &vsaJSON{Referrer: out.VSA.Referrer.Digest.String(), KeyID: out.VSA.KeyID, Result: s.Result, Layout: s.Layout, Levels: s.Levels, TimeVerified: s.Time}
	}
	if withReport {
		j.Report = out.Report
	}
	return j
}

// setErr fills reason and failures, or error.
func setErr(j *verifyJSON, err error) {
	switch {
	case err == nil:
	case verify.IsNotVerified(err):
		j.Reason = err.Error()
		j.Failures = failuresOf(err)
	default:
		j.Error = err.Error()
	}
}

func (f *verifyFlags) one(c *cli.Context, image string, co promote.CheckOptions) error {
	var out promote.Outcome
	// CheckMany bounds the image by co.Deadline, as in batch mode.
	if err := promote.CheckMany(c.Context, []string{image}, co, 1, func(o promote.Outcome) error { out = o; return nil }); err != nil {
		return err
	}
	w := f.out.Stdout(c)
	if f.out.JSON() {
		if err := option.WriteJSON(w, outcomeJSON(out, true)); err != nil {
			return err
		}
		return out.Err
	}
	if out.VSA != nil {
		s := out.VSA.Summary
		_, err := fmt.Fprintf(w, "image %s\nverified by a verification summary from promoter %s (referrer %s): %s at %s, layout %s, levels %s\nPASS\n",
			out.Image, attest.ShortKeyID(out.VSA.KeyID), out.VSA.Referrer.Digest, s.Result, s.Time.Format(time.RFC3339), s.Layout, strings.Join(s.Levels, ","))
		return err
	}
	if out.Report != nil {
		if err := out.Report.WriteText(w); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	return out.Err
}

func (f *verifyFlags) local(c *cli.Context) error {
	if err := requireFlag(c, f.layout, "layout"); err != nil {
		return err
	}
	if !f.layoutKeys.Given() {
		return option.Usagef("--layout-key is required: the layout's signatures must be checked")
	}
	env, err := attest.ReadEnvelopeFile(f.layout, attest.DefaultMaxFileSize)
	if err != nil {
		return err
	}
	if kind, err := env.PayloadKind(); err != nil || kind != "layout" {
		if err == nil {
			err = fmt.Errorf("is a %q document, not a layout", kind)
		}
		return fmt.Errorf("%s: %w", f.layout, err)
	}
	dir := f.linkDir
	if dir == "" {
		dir = "."
	}
	// Each link is read when the engine examines it (verify.OpenLinkDir):
	// a directory of large links is never in memory at once.
	links, err := verify.OpenLinkDir(dir)
	if err != nil {
		return err
	}
	report, verr := verify.Verify(c.Context, verify.Evidence{Source: f.layout, Envelope: env}, links, f.engineOptions(false))
	w := f.out.Stdout(c)
	if f.out.JSON() {
		j := verifyJSON{Layout: f.layout, Verified: verr == nil, Report: report}
		setErr(&j, verr)
		if err := option.WriteJSON(w, j); err != nil {
			return err
		}
		return verr
	}
	if report != nil {
		if err := report.WriteText(w); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	return verr
}
