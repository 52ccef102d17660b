package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// CopyOptions controls Copy.
type CopyOptions struct {
	// Discover bounds the walk of the referrer graph.
	Discover DiscoverOptions
	// Graph, when set, is the part of desc's referrer graph to copy,
	// already read from src (promote passes what verification used, see
	// Node.Select): exactly its referrers without a Problem are copied,
	// and src's referrers are not listed again.
	Graph *Node
	// MaxBlobBytes bounds each blob of a referrer (its config and layers,
	// and those of the manifests a referrer index names); zero means
	// Discover.MaxBlobBytes, or else DefaultMaxBlobBytes. The image's own
	// blobs are not bounded.
	MaxBlobBytes int64
	// MaxTotalBytes bounds the bytes of all the referrers copied, their
	// manifests and blobs, each counted once; zero means
	// DefaultMaxTotalBytes.
	MaxTotalBytes int64
	// Require, when set, says which referrers must be copied (with their
	// parents): one of them beyond a limit, or gone, fails the copy before
	// anything is copied, and they have the first claim on MaxTotalBytes.
	// Any other referrer beyond a limit is left out, with its own
	// referrers, and reported to LeftOut.
	Require func(*Node) bool
	// LeftOut, when set, is called with each referrer left out and why,
	// one at a time, before anything is copied.
	LeftOut func(Skipped)
	// DryRun reads the referrers' manifests, applies the limits and
	// reports what would be left out, and copies nothing.
	DryRun bool
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
// to and its referrer graph (with co.Graph unset, the whole graph as
// Discover finds it, within the same bounds: layouts, links, a
// sublayout's links, other tools' referrers), with oras-go's extended
// copy, and tags it as tag in dst when tag is not empty. Each referrer's
// manifest is read again (by digest, so it is what Discover read) and
// its blobs are bounded by co.MaxBlobBytes and, all referrers together,
// by co.MaxTotalBytes before anything is copied; only what was read then
// is copied, never what a manifest names beyond it.
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
	p, err := planCopy(ctx, src, graph, co)
	if err != nil {
		return err
	}
	if co.DryRun {
		return nil
	}
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
		CopyGraphOptions: oras.CopyGraphOptions{
			PostCopy:      done,
			OnCopySkipped: done,
			// A planned manifest's successors are what the plan read
			// and bounded; anything else (the image's own graph) is
			// found as usual.
			FindSuccessors: func(ctx context.Context, f content.Fetcher, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
				if s, ok := p.successors[d.Digest.String()]; ok {
					if parent, ok := p.subject[d.Digest.String()]; ok {
						// Through the subject, the copy of a
						// referrer reaches its parent and the image.
						s = append(append([]ocispec.Descriptor(nil), s...), parent)
					}
					return s, nil
				}
				return content.Successors(ctx, f, d)
			},
		},
		Depth: o.MaxDepth,
		FindPredecessors: func(ctx context.Context, _ content.ReadOnlyGraphStorage, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			return p.children[d.Digest.String()], nil
		},
	}
	// A push cut on the way is begun again, from src; referrers are
	// pushed without oras-go's indexing and listed by ensure below.
	if err := oras.ExtendedCopyGraph(ctx, src, restartingTarget{dst, src}, desc, opts); err != nil {
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
		if kids := p.children[n.Digest]; len(kids) > 0 {
			if err := ensureListed(ctx, dst, n.desc, kids...); err != nil {
				return err
			}
		}
		for _, c := range n.Referrers {
			if p.copied[c] {
				if err := ensure(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return ensure(graph)
}

// Select returns a copy of the referrer graph below n keeping only the
// referrers that keep accepts, have no Problem and whose parent is kept;
// n itself is always kept. It reads nothing.
func (n *Node) Select(keep func(*Node) bool) *Node {
	out := *n
	out.Referrers = nil
	for _, c := range n.Referrers {
		if c.Problem == "" && keep(c) {
			out.Referrers = append(out.Referrers, c.Select(keep))
		}
	}
	return &out
}

// copyPlan is what Copy copies of a referrer graph.
type copyPlan struct {
	// children are the referrers copied below each manifest, by digest.
	children map[string][]ocispec.Descriptor
	// successors are what each manifest of a copied referrer names, as
	// read (without subject); subject is each copied referrer's parent.
	successors map[string][]ocispec.Descriptor
	subject    map[string]ocispec.Descriptor
	copied     map[*Node]bool
}

// maxCopyEntries bounds the blobs and manifests that one referrer's
// manifests name, maxCopyNesting the manifests nested in a referrer (an
// index of manifests is 1).
const (
	maxCopyEntries = 256
	maxCopyNesting = 2
)

// planCopy reads the manifests of graph's referrers (in parallel) and
// decides, in breadth-first order (required referrers first), which are
// copied within co's limits.
func planCopy(ctx context.Context, src content.Fetcher, graph *Node, co CopyOptions) (*copyPlan, error) {
	l := copyLimits{blob: co.MaxBlobBytes, manifest: co.Discover.MaxManifestBytes}
	if l.blob <= 0 {
		l.blob = co.Discover.MaxBlobBytes
	}
	if l.blob <= 0 {
		l.blob = DefaultMaxBlobBytes
	}
	if l.manifest <= 0 {
		l.manifest = DefaultMaxManifestBytes
	}
	maxTotal := co.MaxTotalBytes
	if maxTotal <= 0 {
		maxTotal = DefaultMaxTotalBytes
	}
	parallel := co.Discover.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	type entry struct{ n, parent *Node }
	var nodes []entry
	parentOf := map[*Node]*Node{}
	for level := []*Node{graph}; len(level) > 0; {
		var next []*Node
		for _, parent := range level {
			for _, c := range parent.Referrers {
				if c.Problem == "" {
					nodes = append(nodes, entry{c, parent})
					parentOf[c] = parent
					next = append(next, c)
				}
			}
		}
		level = next
	}
	required := map[*Node]bool{}
	if co.Require != nil {
		for _, e := range nodes {
			if co.Require(e.n) {
				for n := e.n; n != graph && !required[n]; n = parentOf[n] {
					required[n] = true
				}
			}
		}
	}
	closures := make([]*closure, len(nodes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, e := range nodes {
		g.Go(func() error {
			var err error
			closures[i], err = readClosure(gctx, src, e.n, l)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	p := &copyPlan{children: map[string][]ocispec.Descriptor{}, successors: map[string][]ocispec.Descriptor{}, subject: map[string]ocispec.Descriptor{}, copied: map[*Node]bool{}}
	counted := map[string]bool{}
	var total int64
	decide := func(e entry, c *closure) error {
		reason := c.problem
		if reason == "" && e.parent != graph && !p.copied[e.parent] {
			reason = fmt.Sprintf("its subject %s is not copied", e.parent.Digest)
		}
		var add int64
		for d, size := range c.sizes {
			if !counted[d] {
				add += size
			}
		}
		if reason == "" && total+add > maxTotal {
			reason = fmt.Sprintf("the referrers to copy would be more than %d bytes", maxTotal)
		}
		if reason != "" {
			if required[e.n] {
				return fmt.Errorf("referrer %s is needed but cannot be copied: %s", e.n.Digest, reason)
			}
			if co.LeftOut != nil {
				co.LeftOut(Skipped{Digest: e.n.Digest, Reason: reason})
			}
			return nil
		}
		total += add
		for d := range c.sizes {
			counted[d] = true
		}
		for d, s := range c.successors {
			p.successors[d] = s
		}
		p.copied[e.n] = true
		p.subject[e.n.Digest] = e.parent.desc
		p.children[e.parent.Digest] = append(p.children[e.parent.Digest], e.n.desc)
		return nil
	}
	for _, first := range []bool{true, false} {
		for i, e := range nodes {
			if required[e.n] == first {
				if err := decide(e, closures[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	return p, nil
}

// copyLimits bound what is read and copied of one referrer.
type copyLimits struct{ blob, manifest int64 }

// closure is what one referrer's manifest names, down to its blobs: each
// manifest's successors as read (without subject), the size of each
// manifest and blob by digest, and why the referrer is not copied, if so.
type closure struct {
	successors map[string][]ocispec.Descriptor
	sizes      map[string]int64
	problem    string
}

// copyHead is what Copy reads of a referrer's manifests: what they name
// besides their subject.
type copyHead struct {
	Config    *ocispec.Descriptor  `json:"config"`
	Layers    []ocispec.Descriptor `json:"layers"`
	Blobs     []ocispec.Descriptor `json:"blobs"`
	Manifests []ocispec.Descriptor `json:"manifests"`
}

// readClosure reads n's manifest (by digest: what Discover read) and any
// manifest it names, and bounds what they name: a manifest gone, over the
// manifest limit or not JSON, a blob over the blob limit, too many entries
// or too deep a nesting is the referrer's problem; any other failure to
// read is an error, as in Discover.
func readClosure(ctx context.Context, src content.Fetcher, n *Node, l copyLimits) (*closure, error) {
	c := &closure{successors: map[string][]ocispec.Descriptor{}, sizes: map[string]int64{}}
	entries := 0
	var read func(d ocispec.Descriptor, depth int) (string, error)
	read = func(d ocispec.Descriptor, depth int) (string, error) {
		if _, ok := c.successors[d.Digest.String()]; ok {
			return "", nil
		}
		data, err := fetchAll(ctx, src, d, l.manifest)
		var tooLarge *tooLargeError
		switch {
		case errors.As(err, &tooLarge):
			return "manifest " + err.Error(), nil
		case errors.Is(err, errdef.ErrNotFound):
			return fmt.Sprintf("manifest %s is gone", d.Digest), nil
		case err != nil:
			return "", fmt.Errorf("referrer %s: %w", n.Digest, err)
		}
		var m copyHead
		if err := unmarshalStrict(data, &m); err != nil {
			return fmt.Sprintf("manifest %s is not JSON: %v", d.Digest, err), nil
		}
		c.sizes[d.Digest.String()] = d.Size
		var succ []ocispec.Descriptor
		if m.Config != nil {
			succ = append(succ, *m.Config)
		}
		succ = append(append(append(succ, m.Layers...), m.Blobs...), m.Manifests...)
		c.successors[d.Digest.String()] = succ
		for _, s := range succ {
			if entries++; entries > maxCopyEntries {
				return fmt.Sprintf("its manifests name more than %d blobs and manifests", maxCopyEntries), nil
			}
			switch {
			case isManifestType(s.MediaType) && depth >= maxCopyNesting:
				return fmt.Sprintf("it nests manifests more than %d deep", maxCopyNesting), nil
			case isManifestType(s.MediaType):
				if problem, err := read(s, depth+1); problem != "" || err != nil {
					return problem, err
				}
			case s.Size < 0:
				return fmt.Sprintf("blob %s has a negative size", s.Digest), nil
			case s.Size > l.blob:
				return fmt.Sprintf("blob %s is %d bytes, more than the %d allowed for a referrer's blob", s.Digest, s.Size, l.blob), nil
			default:
				c.sizes[s.Digest.String()] = s.Size
			}
		}
		return "", nil
	}
	var err error
	c.problem, err = read(n.desc, 0)
	return c, err
}

// removeEmptyIngest removes dir/ingest if it is empty: a blob being staged
// by another writer keeps it. Failing to tidy is not a failed copy.
func removeEmptyIngest(dir string) {
	_ = os.Remove(filepath.Join(dir, "ingest"))
}
