package option

import (
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// Attach is --attach IMAGE or --metadata-file FILE (the image a `docker
// buildx build --push --metadata-file FILE` pushed), for the commands that
// write a layout or link and can attach it too; with Bind, also
// --bind-image.
type Attach struct {
	Bind bool

	image, metadata string
	BindImage       bool
	// AttachProducts attaches the step's products as artifact referrers.
	AttachProducts bool
	// Image is the image to attach to, "" for none.
	Image string
}

func (o *Attach) Flags() []cli.Flag {
	fs := []cli.Flag{
		&cli.StringFlag{Name: "attach", Usage: "also attach what is written to this `IMAGE` as an OCI referrer (its digest is then what stdout shows)", Destination: &o.image},
		&cli.StringFlag{Name: "metadata-file", Usage: "attach to the image that 'docker buildx build --push --metadata-file `FILE`' pushed (image.name@containerimage.digest)", Destination: &o.metadata},
	}
	if o.Bind {
		fs = append(fs, &cli.BoolFlag{Name: "bind-image", Usage: "record the image's manifest as the product " + attest.ImageArtifact + " (binds the link to that image; the layout names it in the step's expected_products)", Destination: &o.BindImage},
			&cli.BoolFlag{Name: "attach-products", Usage: "also attach the step's products to the image as artifact referrers (e.g. a scan's report), for inspections and native checks", Destination: &o.AttachProducts})
	}
	return fs
}

func (o *Attach) Parse(*cli.Context) error {
	switch {
	case o.image != "" && o.metadata != "":
		return Usagef("give --attach or --metadata-file, not both")
	case o.metadata != "":
		img, err := oci.ImageFromBuildxMetadata(o.metadata)
		if err != nil {
			return err
		}
		o.Image = img
	default:
		o.Image = o.image
	}
	if o.Image != "" {
		if _, err := oci.ParseReference(o.Image); err != nil {
			return UsageError{err}
		}
	}
	if o.BindImage && o.Image == "" {
		return Usagef("--bind-image needs --attach IMAGE or --metadata-file FILE")
	}
	if o.AttachProducts && o.Image == "" {
		return Usagef("--attach-products needs --attach IMAGE or --metadata-file FILE")
	}
	return nil
}
