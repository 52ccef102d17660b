package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
)

// Flags shared by the commands that write signed documents.
var (
	metablockFlag = &cli.BoolFlag{Name: "metablock", Usage: "write the classic in-toto Metablock instead of DSSE (for in-toto-verify, the Python reference, which reads only Metablock)"}
	forceFlag     = &cli.BoolFlag{Name: "force", Usage: "overwrite an existing output file"}
)

func formOf(c *cli.Context) attest.Form {
	if c.Bool("metablock") {
		return attest.FormMetablock
	}
	return attest.FormDSSE
}

// loadSigners reads every --key file.
func loadSigners(c *cli.Context, flag string) ([]*attest.Signer, error) {
	paths := c.StringSlice(flag)
	if len(paths) == 0 {
		return nil, usagef("--%s is required", flag)
	}
	var out []*attest.Signer
	for _, p := range paths {
		s, err := attest.LoadSigner(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// loadKeys reads every public-key file of flag.
func loadKeys(c *cli.Context, flag string) ([]*attest.Key, error) {
	paths := c.StringSlice(flag)
	if len(paths) == 0 {
		return nil, usagef("--%s is required", flag)
	}
	var out []*attest.Key
	for _, p := range paths {
		k, err := attest.LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// writeEnvelope encodes env and writes it atomically; it returns the bytes
// written.
func writeEnvelope(path string, env *attest.Envelope, force bool) ([]byte, error) {
	data, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	return data, attest.WriteFileAtomic(path, data, 0o644, force)
}

// attachFlag lets the commands that write a layout or link push it too.
var attachFlag = &cli.StringFlag{Name: "attach", Usage: "also attach what is written to this image as an OCI referrer (its digest is then what stdout shows)"}

// metadataFlag names the image by the metadata file of `docker buildx
// build --push --metadata-file`, instead of a reference.
var metadataFlag = &cli.StringFlag{Name: "metadata-file", Usage: "the image is the one a 'docker buildx build --push --metadata-file FILE' pushed (image.name@containerimage.digest)"}

// attachImage returns the image named by --attach or --metadata-file
// (at most one of them), or "".
func attachImage(c *cli.Context) (string, error) {
	image, meta := c.String("attach"), c.String("metadata-file")
	switch {
	case image != "" && meta != "":
		return "", usagef("give --attach or --metadata-file, not both")
	case meta != "":
		return imageFromMetadata(meta)
	}
	return image, nil
}

// published reports a written file: with a target (--attach), it is
// attached to the image and the referrer digest goes to stdout (the path
// to stderr); otherwise the path goes to stdout.
func published(c *cli.Context, t *target, path string, data []byte) error {
	if t == nil {
		_, err := fmt.Fprintln(c.App.Writer, path)
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %s\n", path)
	return t.attach(c, []string{path}, [][]byte{data})
}

// requireFlags reports a missing required flag as a one-line usage error.
// (urfave's Required would also print the whole help on stdout, which
// pollutes output that scripts read.)
func requireFlags(c *cli.Context, names ...string) error {
	for _, n := range names {
		if c.String(n) == "" {
			return usagef("--%s is required (see referee %s --help)", n, c.Command.FullName())
		}
	}
	return nil
}
