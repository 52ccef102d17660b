package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/layoutref"
)

// floorFlags is --min-layout-version, repeatable: N for every image, or
// PATTERN=N for the images whose repository (HOST/REPO) matches the glob
// (* within a path segment, ** across); the first that matches applies.
type floorFlags struct {
	values cli.StringSlice
	Floors layoutref.Floors
}

func (f *floorFlags) Flags() []cli.Flag {
	return []cli.Flag{&cli.StringSliceFlag{Name: "min-layout-version", Usage: "refuse attached layouts below this `VERSION`, so that deleting the current layout cannot bring back an older one: N, or IMAGE-GLOB=N for a set of images (e.g. 'registry.example.com/shop/**=3'); repeatable, the first that matches applies", Destination: &f.values}}
}

func (f *floorFlags) Parse(*cli.Context) error {
	for _, v := range f.values.Value() {
		fl, err := layoutref.ParseFloor(v)
		if err != nil {
			return option.UsageError{Err: err}
		}
		f.Floors = append(f.Floors, fl)
	}
	return nil
}

// For is the minimum version for the image named by a reference's
// repository (HOST/REPO or oci-layout:PATH).
func (f *floorFlags) For(name string) int { return f.Floors.For(name) }
