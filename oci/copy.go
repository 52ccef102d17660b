package oci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

// CopyOptions controls Copy.
type CopyOptions struct {
	// Discover bounds the walk of the referrer graph.
	Discover DiscoverOptions
	// Graph, when set, is desc's referrer graph already discovered in src
	// (as promote has it), which Copy then does not walk again.
	Graph *Node
	// Progress, when set, is called after each blob or manifest is copied
	// (or found already there) with the running totals.
	Progress func(items int, bytes int64)
	// DstLayout is dst's directory when dst is an OCI layout
	// (Reference.Layout). oras-go's layout store stages blobs in an
	// ingest/ directory it leaves behind, which is no part of the image
	// layout; Copy removes it at the end when it is empty.
	DstLayout string
}

// Copy copies the manifest desc from src to dst with everything it refers
// to and its whole referrer graph (layouts, links, a sublayout's links,
// other tools' referrers), with oras-go's extended copy, and tags it as
// tag in dst when tag is not empty. Referrers are found as Discover finds
// them, within the same bounds.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests-with-subject
func Copy(ctx context.Context, src, dst Store, desc ocispec.Descriptor, tag string, co CopyOptions) error {
	o := co.Discover
	o.noContent = true
	graph := co.Graph
	if graph == nil {
		var err error
		if graph, err = Discover(ctx, src, desc, o); err != nil {
			return err
		}
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
	var mu sync.Mutex
	var items int
	var bytes int64
	done := func(_ context.Context, d ocispec.Descriptor) error {
		if co.Progress != nil {
			mu.Lock()
			items, bytes = items+1, bytes+d.Size
			co.Progress(items, bytes)
			mu.Unlock()
		}
		return nil
	}
	opts := oras.ExtendedCopyGraphOptions{
		CopyGraphOptions: oras.CopyGraphOptions{PostCopy: done, OnCopySkipped: done},
		Depth:            o.MaxDepth,
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
	if co.DstLayout != "" {
		defer removeEmptyIngest(co.DstLayout)
	}
	var ensure func(n *Node) error
	ensure = func(n *Node) error {
		if kids := children[n.Digest]; len(kids) > 0 {
			if err := ensureListed(ctx, dst, n.desc, kids...); err != nil {
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

// removeEmptyIngest removes dir/ingest if it is empty: a blob being staged
// by another writer keeps it. Failing to tidy is not a failed copy.
func removeEmptyIngest(dir string) {
	_ = os.Remove(filepath.Join(dir, "ingest"))
}
