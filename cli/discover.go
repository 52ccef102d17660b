package cli

import (
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/internal/termsafe"
	"github.com/referee-dev/referee/oci"
)

func discoverCommand() *cli.Command {
	var (
		remote       option.Remote
		out          = option.NewOutput("tree", "json", "text")
		artifactType string
	)
	groups := []option.Group{&out, &remote}
	return &cli.Command{
		Name:      "discover",
		Usage:     "show the referrer graph of an image, recursively",
		ArgsUsage: "IMAGE",
		Description: `Like oras discover: every referrer, read from its own manifest, and their referrers in turn
(a sublayout's links hang under the sublayout). Referrers that name another subject are shown
with the problem and not followed. When IMAGE is an index built by BuildKit, its attestation
manifests (SLSA provenance, SPDX SBOM, stored in the index, not as referrers) are shown too.
Nothing the registry says is trusted: discover checks no signatures (verify does).

Examples:
   referee discover localhost:5000/app:v1
   referee discover localhost:5000/app:v1 --format json`,
		Flags: append(option.Flags(groups...),
			&cli.StringFlag{Name: "artifact-type", Usage: "show only referrers of this artifact `TYPE`", Destination: &artifactType}),
		Before: func(*cli.Context) error {
			if out.Format == "text" {
				out.Format = "tree" // the text form of a graph
			}
			return nil
		},
		Action: action(func(c *cli.Context) error {
			if err := requireArgs(c, 1, 1, "one IMAGE"); err != nil {
				return err
			}
			if artifactType != "" && !strings.Contains(artifactType, "/") {
				return option.Usagef("--artifact-type %q: give a media type (such as %s or %s); discover shows each referrer's", artifactType, oci.ArtifactTypeLayoutDSSE, oci.ArtifactTypeLinkDSSE)
			}
			s, ref, desc, err := oci.OpenResolved(c.Context, c.Args().First(), remote.OCI())
			if err != nil {
				return err
			}
			o := remote.Discover()
			o.ArtifactType = artifactType
			graph, err := oci.DiscoverBuildKit(c.Context, s, desc, o)
			if err != nil {
				return err
			}
			// cosign's legacy attestations are no referrers: they live
			// in the tag sha256-<hex>.att, shown after the tree.
			var legacy []cosignJSON
			if artifactType == "" {
				if legacy, err = cosignLegacy(c, s, desc, remote.OCI()); err != nil {
					return err
				}
			}
			if out.JSON() {
				return option.WriteJSON(out.Stdout(c), struct {
					Reference string `json:"reference"`
					*oci.Node
					Cosign []cosignJSON `json:"cosignAttestations,omitempty"`
				}{ref.String(), graph, legacy})
			}
			if err := graph.WriteTree(out.Stdout(c), ref.String()); err != nil {
				return err
			}
			for _, l := range legacy {
				fmt.Fprintf(out.Stdout(c), "%s (cosign attestation, predicate %s, keys %s)\n", termsafe.Quote(l.Source), termsafe.Quote(l.PredicateType), termsafe.Quote(strings.Join(l.KeyIDs, ",")))
			}
			return nil
		}, groups...),
	}
}

// cosignJSON is one of cosign's legacy attestations in discover's output.
type cosignJSON struct {
	Source        string   `json:"source"`
	PredicateType string   `json:"predicateType"`
	KeyIDs        []string `json:"keyids"`
}

// cosignLegacy lists cosign's legacy attestations of the image (the
// layers of its sha256-<hex>.att tag); signatures are not checked.
func cosignLegacy(c *cli.Context, s oci.Store, desc ocispec.Descriptor, o oci.Options) ([]cosignJSON, error) {
	atts, err := oci.CosignLegacyAttestations(c.Context, s, desc, oci.AttestationOptions{MaxManifestBytes: o.MaxManifestBytes, MaxBlobBytes: o.MaxBlobBytes})
	if err != nil {
		return nil, fmt.Errorf("reading cosign's attestations: %w", err)
	}
	var out []cosignJSON
	for _, a := range atts.Found {
		if a.Envelope == nil {
			continue
		}
		j := cosignJSON{Source: a.Source, KeyIDs: a.Envelope.SignerKeyIDs()}
		if st, err := attest.ParseStatement(a.Envelope.Payload); err == nil {
			j.PredicateType = st.PredicateType
		}
		out = append(out, j)
	}
	return out, nil
}
