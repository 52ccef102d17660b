package oci

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

// Copy copies the manifest desc from src to dst with everything it refers
// to and its whole referrer graph (layouts, links, a sublayout's links,
// other tools' referrers), with oras-go's extended copy, and tags it as
// tag in dst when tag is not empty. Referrers are found as Discover finds
// them, within the same bounds.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests-with-subject
func Copy(ctx context.Context, src, dst Store, desc ocispec.Descriptor, tag string, o DiscoverOptions) error {
	graph, err := Discover(ctx, src, desc, o)
	if err != nil {
		return err
	}
	// Only follow referrers whose manifests name their parent (the graph
	// Discover checked), never a listing's word.
	children := map[string][]ocispec.Descriptor{}
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, c := range n.Referrers {
			if c.Problem == "" {
				children[n.Digest] = append(children[n.Digest], c.desc)
				walk(c)
			}
		}
	}
	walk(graph)
	opts := oras.ExtendedCopyGraphOptions{
		Depth: o.MaxDepth,
		FindPredecessors: func(ctx context.Context, _ content.ReadOnlyGraphStorage, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			return children[d.Digest.String()], nil
		},
	}
	if err := oras.ExtendedCopyGraph(ctx, src, dst, desc, opts); err != nil {
		return fmt.Errorf("copying %s: %w", desc.Digest, err)
	}
	if tag != "" {
		if err := dst.Tag(ctx, desc, tag); err != nil {
			return fmt.Errorf("tagging %s as %s: %w", desc.Digest, tag, err)
		}
	}
	var ensure func(n *Node) error
	ensure = func(n *Node) error {
		for _, c := range children[n.Digest] {
			if err := ensureListed(ctx, dst, n.desc, c); err != nil {
				return err
			}
		}
		for _, c := range n.Referrers {
			if c.Problem == "" {
				if err := ensure(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return ensure(graph)
}
