package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/oci"
)

// registryFlags reach registries and bound what they may send.
func registryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "plain-http", Usage: "use plain HTTP for a registry that is not on a loopback address (loopback registries use it unless --ca-file is given)"},
		&cli.StringFlag{Name: "ca-file", Usage: "PEM file of extra certificate authorities for the registry's TLS"},
		&cli.Int64Flag{Name: "max-manifest-size", Value: oci.DefaultMaxManifestBytes, Usage: "refuse manifests larger than this many bytes"},
		&cli.Int64Flag{Name: "max-blob-size", Value: oci.DefaultMaxBlobBytes, Usage: "refuse envelope blobs larger than this many bytes"},
	}
}

func ociOptions(c *cli.Context) oci.Options {
	return oci.Options{
		PlainHTTP:        c.Bool("plain-http"),
		CAFile:           c.String("ca-file"),
		MaxManifestBytes: c.Int64("max-manifest-size"),
		MaxBlobBytes:     c.Int64("max-blob-size"),
	}
}

func discoverOptions(c *cli.Context) oci.DiscoverOptions {
	return oci.DiscoverOptions{MaxManifestBytes: c.Int64("max-manifest-size")}
}

func attachCommand() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "attach signed layout and link files to an image as OCI referrers",
		ArgsUsage: "IMAGE FILE...",
		Description: `Each FILE (DSSE or Metablock, made by referee or the in-toto references) becomes a referrer
of IMAGE's digest. IMAGE is resolved once. The digest of each referrer is printed on stdout,
one per line; attaching a file that is already attached prints the existing referrer.

Example:
   referee attach localhost:5000/app:v1 root.layout build.3cedfa21.link
   docker buildx build --push -t localhost:5000/app:v1 --metadata-file meta.json .
   referee attach --metadata-file meta.json root.layout build.3cedfa21.link`,
		Flags: append(registryFlags(),
			&cli.StringFlag{Name: "step", Usage: "attach a layout as the sublayout standing for this step"},
			&cli.StringFlag{Name: "metadata-file", Usage: "attach to the image a 'docker buildx build --push --metadata-file FILE' pushed; then every argument is a FILE"}),
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			image := ""
			if meta := c.String("metadata-file"); meta != "" {
				var err error
				if image, err = imageFromMetadata(meta); err != nil {
					return err
				}
			} else if len(args) > 0 {
				image, args = args[0], args[1:]
			}
			if image == "" || len(args) == 0 {
				return usagef("attach takes IMAGE (or --metadata-file) and one or more FILEs")
			}
			files := args
			datas := make([][]byte, len(files))
			for i, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				datas[i] = data
			}
			t, err := openTarget(c, image)
			if err != nil {
				return err
			}
			return t.attach(c, files, datas)
		},
	}
}

// target is an image resolved once, to attach to.
type target struct {
	s    oci.Store
	ref  oci.Reference
	desc ocispec.Descriptor
}

// openTarget resolves image; nil when image is empty.
func openTarget(c *cli.Context, image string) (*target, error) {
	if image == "" {
		return nil, nil
	}
	s, ref, desc, err := oci.OpenResolved(c.Context, image, ociOptions(c))
	if err != nil {
		return nil, err
	}
	return &target{s, ref, desc}, nil
}

// attach attaches each document and prints the referrer digests.
func (t *target) attach(c *cli.Context, names []string, docs [][]byte) error {
	s, ref, desc := t.s, t.ref, t.desc
	for i, doc := range docs {
		a, err := oci.Attach(c.Context, s, desc, doc, oci.AttachOptions{Step: c.String("step")})
		if err != nil {
			return fmt.Errorf("attaching %s to %s: %w", names[i], ref, err)
		}
		verb := "attached"
		if a.Existed {
			verb = "already attached"
		}
		fmt.Fprintf(c.App.ErrWriter, "%s %s to %s as %s\n", verb, names[i], ref, a.Manifest.Digest)
		if _, err := fmt.Fprintln(c.App.Writer, a.Manifest.Digest); err != nil {
			return err
		}
	}
	return nil
}

func discoverCommand() *cli.Command {
	return &cli.Command{
		Name:      "discover",
		Usage:     "show the referrer graph of an image, recursively",
		ArgsUsage: "IMAGE",
		Description: `Like oras discover: every referrer, read from its own manifest, and their referrers in turn
(a sublayout's links hang under the sublayout). Referrers that name another subject are shown
with the problem and not followed. When IMAGE is an index built by BuildKit, its attestation
manifests (SLSA provenance, SPDX SBOM, stored in the index, not as referrers) are shown too.

Example:
   referee discover localhost:5000/app:v1 --format json`,
		Flags: append(registryFlags(),
			&cli.StringFlag{Name: "format", Value: "tree", Usage: "tree or json"},
			&cli.StringFlag{Name: "artifact-type", Usage: "show only referrers of this artifact type"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("discover takes one IMAGE")
			}
			format := c.String("format")
			if format != "tree" && format != "json" {
				return usagef("--format %q: want tree or json", format)
			}
			s, ref, desc, err := oci.OpenResolved(c.Context, c.Args().First(), ociOptions(c))
			if err != nil {
				return err
			}
			o := discoverOptions(c)
			o.ArtifactType = c.String("artifact-type")
			graph, err := oci.DiscoverBuildKit(c.Context, s, desc, o)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Reference string `json:"reference"`
					*oci.Node
				}{ref.String(), graph})
			}
			return graph.WriteTree(c.App.Writer, ref.String())
		},
	}
}

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "write an image's layout and links as files that in-toto-verify reads",
		ArgsUsage: "IMAGE",
		Description: `Writes root.layout (root.DIGEST12.layout for each of several layouts) and STEP.KEYID8.link
files into --out, a sublayout's links into STEP.KEYID8/. The paths written are printed on stdout.
Each file is written as it was attached: in-toto-verify (the Python reference) reads only
Metablock, so for it attach files made with --metablock (and keys it can read, e.g. RSA PEM).

Example:
   referee pull localhost:5000/app:v1 --out evidence/
   in-toto-verify -l evidence/root.layout -k owner.pub --link-dir evidence/`,
		Flags: append(registryFlags(),
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "directory to write into (required)"}),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("pull takes one IMAGE")
			}
			if err := requireFlags(c, "out"); err != nil {
				return err
			}
			s, ref, desc, err := oci.OpenResolved(c.Context, c.Args().First(), ociOptions(c))
			if err != nil {
				return err
			}
			_, b, err := oci.DiscoverAndGather(c.Context, s, desc, discoverOptions(c), c.Int64("max-blob-size"))
			if err != nil {
				return err
			}
			res, err := oci.WriteBundle(b, c.String("out"))
			if err != nil {
				return err
			}
			for _, sk := range res.Skipped {
				fmt.Fprintf(c.App.ErrWriter, "skipped %s: %s\n", sk.Digest, sk.Reason)
			}
			atts, err := oci.BuildKitAttestations(c.Context, s, desc, c.Int64("max-manifest-size"))
			if err != nil {
				return err
			}
			for _, a := range atts {
				fmt.Fprintf(c.App.ErrWriter, "not written: %s (an unsigned BuildKit statement, not in-toto layout evidence)\n", a.Describe())
			}
			fmt.Fprintf(c.App.ErrWriter, "pulled %d files from %s\n", len(res.Files), ref)
			for _, f := range res.Files {
				if _, err := fmt.Fprintln(c.App.Writer, f.Path); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy an image with its whole referrer graph",
		ArgsUsage: "SRC DST",
		Description: `Copies the image and every referrer (layouts, links, sublayouts' links, other tools'
referrers) between registries or to and from an OCI layout directory (oci-layout:PATH[:TAG]).
DST's tag (or SRC's, when DST has none) is set. The digest is printed on stdout.

Example:
   referee copy localhost:5000/app:v1 oci-layout:./airgap:v1`,
		Flags: registryFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("copy takes SRC and DST")
			}
			src, srcRef, desc, dst, dstRef, tag, err := openSrcDst(c)
			if err != nil {
				return err
			}
			progress := progressLine(c, "copying", "items")
			err = oci.Copy(c.Context, src, dst, desc, tag, oci.CopyOptions{Discover: discoverOptions(c), Progress: progress})
			endProgress(c, progress)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.ErrWriter, "copied %s to %s\n", srcRef.WithDigest(desc.Digest), dstRef)
			_, err = fmt.Fprintln(c.App.Writer, desc.Digest)
			return err
		},
	}
}

// openSrcDst resolves SRC once and opens DST for copy and promote. DST may
// not name another digest; its tag is DST's, or SRC's when DST has none.
func openSrcDst(c *cli.Context) (src oci.Store, srcRef oci.Reference, desc ocispec.Descriptor, dst oci.Store, dstRef oci.Reference, tag string, err error) {
	src, srcRef, desc, err = oci.OpenResolved(c.Context, c.Args().Get(0), ociOptions(c))
	if err != nil {
		return
	}
	dstArg := c.Args().Get(1)
	if dstRef, err = oci.ParseReference(dstArg); err != nil {
		return
	}
	if dstRef.Digest != "" && dstRef.Digest != desc.Digest {
		err = usagef("DST names digest %s but SRC is %s", dstRef.Digest, desc.Digest)
		return
	}
	if dst, err = oci.Open(c.Context, dstRef, ociOptions(c)); err != nil {
		return
	}
	rest := strings.TrimPrefix(dstArg, oci.LayoutPrefix)
	switch last := rest[strings.LastIndex(rest, "/")+1:]; {
	case dstRef.Digest != "":
	case strings.Contains(last, ":"):
		tag = dstRef.Tag
	default:
		tag = srcRef.Tag // DST names no tag: keep SRC's
	}
	return
}
