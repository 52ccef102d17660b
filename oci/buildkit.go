package oci

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"
)

// BuildKit keeps its own attestations (SLSA provenance, SPDX SBOM) inside
// the image index it pushes, not as referrers: after the platform images,
// the index lists one "attestation manifest" per image, with platform
// unknown/unknown and the annotations vnd.docker.reference.type
// ("attestation-manifest") and vnd.docker.reference.digest (the platform
// image it describes). Each is an image manifest whose layers of media type
// application/vnd.in-toto+json are unsigned in-toto Statements, annotated
// with in-toto.io/predicate-type; layers of other media types are to be
// ignored, and so is an index entry of another reference type.
// https://docs.docker.com/build/metadata/attestations/attestation-storage/
// https://github.com/moby/buildkit/blob/master/docs/attestations/attestation-storage.md
const (
	// MediaTypeInTotoStatement is the media type of BuildKit's attestation
	// layers (an in-toto Statement, not signed) and the artifact type
	// DiscoverBuildKit gives the nodes that stand for them.
	MediaTypeInTotoStatement = "application/vnd.in-toto+json"
	// AnnotationDockerReferenceType marks an index entry as an attestation
	// manifest when set to DockerReferenceAttestation.
	AnnotationDockerReferenceType = "vnd.docker.reference.type"
	// AnnotationDockerReferenceDigest names the index entry (platform image)
	// an attestation manifest describes.
	AnnotationDockerReferenceDigest = "vnd.docker.reference.digest"
	// DockerReferenceAttestation is AnnotationDockerReferenceType's value
	// for an attestation manifest.
	DockerReferenceAttestation = "attestation-manifest"
)

// mediaTypeDockerManifestList and mediaTypeDockerManifest are Docker's
// schema 2 media types, which BuildKit uses unless told oci-mediatypes=true.
const (
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
)

// BuildKitAttestation is one attestation manifest of a BuildKit image
// index, as checked by BuildKitAttestations.
type BuildKitAttestation struct {
	// Manifest is the attestation manifest's descriptor in the index.
	Manifest ocispec.Descriptor `json:"manifest"`
	// Subject is the platform image it describes (the index's
	// vnd.docker.reference.digest annotation, checked to be listed in the
	// index), and Platform that image's platform in the index.
	Subject  digest.Digest     `json:"subject"`
	Platform *ocispec.Platform `json:"platform,omitempty"`
	// Layers are the attestation manifest's in-toto layers, and
	// PredicateTypes their in-toto.io/predicate-type annotations (one per
	// layer, "" when a layer has none). They are read from the attestation
	// manifest; the Statements themselves are not fetched.
	Layers         []ocispec.Descriptor `json:"layers,omitempty"`
	PredicateTypes []string             `json:"predicateTypes,omitempty"`
	// Problem says why the index's word was not trusted (the manifest is
	// missing, is not an image manifest, has no in-toto layer, describes an
	// image the index does not list, …); Layers and PredicateTypes are
	// then empty.
	Problem string `json:"problem,omitempty"`
}

// BuildKitAttestations returns the attestation manifests BuildKit stored in
// the image index index (OCI index or Docker manifest list), in index order;
// nothing for any other manifest. The index and each attestation manifest
// are fetched, checked against digest and size and refused above limit
// (zero means DefaultMaxManifestBytes). An entry that the index marks as an
// attestation manifest but that does not hold up is returned with a
// Problem; the error is for an index that cannot be read at all.
// https://docs.docker.com/build/metadata/attestations/attestation-storage/
func BuildKitAttestations(ctx context.Context, s content.Fetcher, index ocispec.Descriptor, limit int64) ([]BuildKitAttestation, error) {
	if index.MediaType != ocispec.MediaTypeImageIndex && index.MediaType != mediaTypeDockerManifestList {
		return nil, nil
	}
	if limit <= 0 {
		limit = DefaultMaxManifestBytes
	}
	data, err := fetchAll(ctx, s, index, limit)
	if err != nil {
		return nil, err
	}
	var idx manifestHead
	if err := unmarshalStrict(data, &idx); err != nil {
		return nil, fmt.Errorf("index %s is not JSON: %w", index.Digest, err)
	}
	if idx.MediaType != "" && idx.MediaType != index.MediaType {
		return nil, fmt.Errorf("index %s says it is a %s, not a %s", index.Digest, idx.MediaType, index.MediaType)
	}
	images := map[digest.Digest]*ocispec.Platform{}
	var atts []BuildKitAttestation
	for _, m := range idx.Manifests {
		switch m.Annotations[AnnotationDockerReferenceType] {
		case "":
			images[m.Digest] = m.Platform
		case DockerReferenceAttestation:
			atts = append(atts, BuildKitAttestation{Manifest: m})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range atts {
		a := &atts[i]
		g.Go(func() error {
			a.Problem = a.check(gctx, s, images, limit)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return atts, nil
}

// check fills a from its attestation manifest and returns what is wrong
// with it, if anything.
func (a *BuildKitAttestation) check(ctx context.Context, s content.Fetcher, images map[digest.Digest]*ocispec.Platform, limit int64) string {
	m := a.Manifest
	ref, err := digest.Parse(m.Annotations[AnnotationDockerReferenceDigest])
	if err != nil {
		return fmt.Sprintf("its %s annotation is not a digest: %v", AnnotationDockerReferenceDigest, err)
	}
	a.Subject = ref
	platform, listed := images[ref]
	if !listed {
		return fmt.Sprintf("describes %s, which the index does not list", ref)
	}
	a.Platform = platform
	if p := m.Platform; p == nil || p.OS != "unknown" || p.Architecture != "unknown" {
		return "listed in the index with a runnable platform instead of unknown/unknown"
	}
	if m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != mediaTypeDockerManifest {
		return fmt.Sprintf("listed as a %s, not an image manifest", m.MediaType)
	}
	data, err := fetchAll(ctx, s, m, limit)
	if err != nil {
		return err.Error()
	}
	var am manifestHead
	if err := unmarshalStrict(data, &am); err != nil {
		return fmt.Sprintf("manifest is not JSON: %v", err)
	}
	if am.MediaType != m.MediaType || len(am.Manifests) > 0 {
		return fmt.Sprintf("manifest says it is a %q, not the %s the index lists", am.MediaType, m.MediaType)
	}
	if am.Subject != nil && am.Subject.Digest != ref {
		return fmt.Sprintf("manifest names subject %s but the index says it describes %s", am.Subject.Digest, ref)
	}
	var layers []ocispec.Descriptor
	var types []string
	for _, l := range am.Layers {
		if l.MediaType == MediaTypeInTotoStatement { // other media types are to be ignored
			layers = append(layers, l)
			types = append(types, l.Annotations[AnnotationPredicateType])
		}
	}
	if len(layers) == 0 {
		return fmt.Sprintf("manifest has no %s layer", MediaTypeInTotoStatement)
	}
	a.Layers, a.PredicateTypes = layers, types
	return ""
}

// Describe is a one-line account of the attestation: "buildkit
// attestation-manifest for sha256:… (linux/amd64): TYPE, TYPE".
func (a BuildKitAttestation) Describe() string {
	var b strings.Builder
	b.WriteString("buildkit attestation-manifest for ")
	if a.Subject != "" {
		b.WriteString(a.Subject.String())
	} else {
		b.WriteString("an unnamed image")
	}
	if p := a.Platform; p != nil && p.OS != "" {
		b.WriteString(" (" + p.OS + "/" + p.Architecture)
		if p.Variant != "" {
			b.WriteString("/" + p.Variant)
		}
		b.WriteString(")")
	}
	if len(a.PredicateTypes) > 0 {
		types := make([]string, len(a.PredicateTypes))
		for i, t := range a.PredicateTypes {
			if types[i] = t; t == "" {
				types[i] = "no predicate type"
			}
		}
		b.WriteString(": " + strings.Join(types, ", "))
	}
	return b.String()
}

// AddBuildKit hangs BuildKit's attestation manifests under n (the index
// they were found in), after its referrers, so that WriteTree and the JSON
// output show them. They are not referrers: each node has artifact type
// MediaTypeInTotoStatement and annotations made by referee (not read from
// a manifest): AnnotationKind holds Describe's text, AnnotationPredicateType
// the predicate types (comma-separated), and the index's
// vnd.docker.reference annotations are copied. A node whose attestation
// has a Problem shows it, after Describe's text. The nodes have no layers, so Gather finds no
// layout or link in them (BuildKit's Statements are unsigned anyway).
func (n *Node) AddBuildKit(atts []BuildKitAttestation) {
	for _, a := range atts {
		ann := map[string]string{
			AnnotationKind:                  a.Describe(),
			AnnotationDockerReferenceType:   DockerReferenceAttestation,
			AnnotationDockerReferenceDigest: a.Manifest.Annotations[AnnotationDockerReferenceDigest],
		}
		if len(a.PredicateTypes) > 0 {
			ann[AnnotationPredicateType] = strings.Join(a.PredicateTypes, ",")
		}
		problem := a.Problem
		if problem != "" {
			problem = a.Describe() + ": " + problem
		}
		d := a.Manifest
		d.ArtifactType = MediaTypeInTotoStatement
		n.Referrers = append(n.Referrers, &Node{
			Digest: a.Manifest.Digest.String(), MediaType: a.Manifest.MediaType, Size: a.Manifest.Size,
			ArtifactType: MediaTypeInTotoStatement, Annotations: ann, Problem: problem, desc: d,
		})
	}
}

// DiscoverBuildKit is Discover, plus the attestation manifests BuildKit
// stored in subject when it is an image index (see BuildKitAttestations),
// added with AddBuildKit. With o.ArtifactType set to anything but
// MediaTypeInTotoStatement they are left out. Use the graph for display:
// Copy and Gather walk referrers, which is what Discover returns.
// https://docs.docker.com/build/metadata/attestations/attestation-storage/
func DiscoverBuildKit(ctx context.Context, s content.ReadOnlyGraphStorage, subject ocispec.Descriptor, o DiscoverOptions) (*Node, error) {
	graph, err := Discover(ctx, s, subject, o)
	if err != nil {
		return nil, err
	}
	if o.ArtifactType != "" && o.ArtifactType != MediaTypeInTotoStatement {
		return graph, nil
	}
	atts, err := BuildKitAttestations(ctx, s, subject, o.MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	graph.AddBuildKit(atts)
	return graph, nil
}
