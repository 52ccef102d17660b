package cli

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/oci"
)

func copyCommand() *cli.Command {
	var (
		remote option.Remote
		out    = option.NewOutput(option.TextJSON...)
	)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy an image with its whole referrer graph",
		ArgsUsage: "SRC DST",
		Description: `Copies the image and every referrer (layouts, links, sublayouts' links, other tools'
referrers; each referrer blob within --max-blob-size, all within 256 MiB, the rest left out
and said) between registries or to and from an OCI layout directory (oci-layout:PATH[:TAG]).
DST's tag (or SRC's, when DST has none) is set. The digest is printed on stdout.

Examples:
   referee copy localhost:5000/app:v1 oci-layout:./airgap:v1
   referee copy oci-layout:./airgap:v1 registry.example.com/app`,
		Flags: option.Flags(groups...),
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 2, 2, "SRC and DST"); err != nil {
				return err
			}
			sd, err := openSrcDst(c, remote.OCI())
			if err != nil {
				return err
			}
			progress := progressLine(c, out.Quiet, "copying", "item")
			var leftOut []oci.Skipped
			err = oci.Copy(c.Context, sd.src, sd.dst, sd.desc, sd.tag, oci.CopyOptions{Discover: remote.Discover(), Progress: progress, DstLayout: sd.dstRef.Layout,
				MaxBlobBytes: remote.MaxBlobBytes, LeftOut: func(s oci.Skipped) { leftOut = append(leftOut, s) }})
			endProgress(c, progress)
			if err != nil {
				return err
			}
			for _, l := range leftOut {
				fmt.Fprintf(out.Stderr(c), "warning: referrer %s not copied: %s\n", termsafe.Quote(l.Digest), termsafe.Quote(l.Reason))
			}
			fmt.Fprintf(out.Stderr(c), "copied %s to %s\n", sd.srcRef, sd.dstName())
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), map[string]any{"source": sd.srcRef.String(), "destination": sd.dstRef.Name(), "tag": sd.tag, "digest": sd.desc.Digest.String(), "leftOut": leftOut})
			}
			_, err = fmt.Fprintln(out.Stdout(c), sd.desc.Digest)
			return err
		}, groups...),
	}
}

// srcDst is copy's and promote's SRC, resolved once, and DST, opened.
type srcDst struct {
	src, dst       oci.Store
	srcRef, dstRef oci.Reference
	desc           ocispec.Descriptor
	// tag is DST's tag, or SRC's when DST has none.
	tag string
}

// dstName is DST as written: with the tag that is set, or untagged.
func (sd *srcDst) dstName() string {
	if sd.tag == "" {
		return sd.dstRef.Name() + " (untagged: give DST a tag, or SRC one to keep)"
	}
	return sd.dstRef.Name() + ":" + sd.tag
}

// openSrcDst resolves SRC once and opens DST. DST may not name another
// digest.
func openSrcDst(c *cli.Context, o oci.Options) (*srcDst, error) {
	var sd srcDst
	var err error
	sd.src, sd.srcRef, sd.desc, err = oci.OpenResolved(c.Context, c.Args().Get(0), o)
	if err != nil {
		return nil, err
	}
	dstArg := c.Args().Get(1)
	if sd.dstRef, err = oci.ParseReference(dstArg); err != nil {
		return nil, err
	}
	if sd.dstRef.Digest != "" && sd.dstRef.Digest != sd.desc.Digest {
		return nil, option.Usagef("DST names digest %s but SRC is %s", sd.dstRef.Digest, sd.desc.Digest)
	}
	if sd.dst, err = oci.Open(c.Context, sd.dstRef, o); err != nil {
		return nil, err
	}
	rest := strings.TrimPrefix(dstArg, oci.LayoutPrefix)
	switch last := rest[strings.LastIndex(rest, "/")+1:]; {
	case sd.dstRef.Digest != "":
	case strings.Contains(last, ":"):
		sd.tag = sd.dstRef.Tag
	default:
		sd.tag = sd.srcRef.Tag // DST names no tag: keep SRC's
	}
	return &sd, nil
}
