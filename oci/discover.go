package oci

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/referee-dev/referee/attest"
)

// Node is one manifest of a referrer graph, described from the manifest
// itself (never from the registry's listing, which may be wrong).
type Node struct {
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	Size         int64  `json:"size"`
	ArtifactType string `json:"artifactType,omitempty"`
	// Annotations are the referrer's, without the envelope they may carry
	// (AnnotationEnvelopeData).
	Annotations map[string]string `json:"annotations,omitempty"`
	// Problem says why a listed referrer was not followed (its manifest
	// names another subject, cannot be fetched, …).
	Problem string `json:"problem,omitempty"`
	// FromContent describes a referrer that carries none of referee's
	// annotations (attached by oras attach or another tool) by the signed
	// in-toto layout or link its one layer holds: read from the document,
	// unverified. Nil for referee's own referrers and for anything else.
	FromContent *ContentSummary `json:"fromContent,omitempty"`
	// Artifact describes an artifact referrer (ArtifactTypeArtifact) from
	// its manifest: the file's path and digest. Nil for anything else.
	Artifact  *ArtifactInfo `json:"artifact,omitempty"`
	Referrers []*Node       `json:"referrers,omitempty"`

	desc   ocispec.Descriptor
	layers []ocispec.Descriptor
	// err is why the manifest could not be read, when that is not the
	// referrer's fault (see read).
	err error
	// listed: described from the registry's listing, the manifest not
	// read (DiscoverOptions.ListedEnvelopes).
	listed bool
}

// Descriptor returns the node's descriptor.
func (n *Node) Descriptor() ocispec.Descriptor { return n.desc }

// Layers returns the node's layers (or an index's manifests).
func (n *Node) Layers() []ocispec.Descriptor { return n.layers }

// DiscoverOptions bounds the walk of a referrer graph.
type DiscoverOptions struct {
	// ArtifactType keeps only referrers of this type (read from each
	// manifest: artifactType, or else config.mediaType).
	ArtifactType string
	// MaxDepth bounds nesting (a sublayout's links are referrers of the
	// sublayout); zero means 8.
	MaxDepth int
	// MaxNodes bounds the referrers in the whole graph (the subject is
	// not counted); zero means DefaultMaxReferrers.
	MaxNodes int
	// MaxReferrers bounds the referrers of one manifest; zero means
	// DefaultMaxReferrers.
	MaxReferrers int
	// MaxListTime bounds each listing of a manifest's referrers, all its
	// pages; zero means DefaultMaxListTime. (The pages of a listing are
	// bounded by Options.MaxReferrerPages.)
	MaxListTime time.Duration
	// MaxManifestBytes refuses larger manifests; zero means the default.
	MaxManifestBytes int64
	// MaxBlobBytes bounds the layer read to describe a referrer without
	// referee's annotations (Node.FromContent); zero means
	// DefaultMaxBlobBytes.
	MaxBlobBytes int64
	// Parallel bounds concurrent requests; zero means DefaultParallel.
	Parallel int
	// Follow, when set, decides which referrers' own referrers are listed
	// (verification lists them only under layouts, where a sublayout's
	// links hang, saving a round trip); nil lists everyone's.
	Follow func(*Node) bool
	// Trust, when it has keys, makes DiscoverAndGather keep in full only
	// the documents that verification can use, checked as they arrive
	// (see Trust); nil keeps every in-toto document read (pull).
	Trust *Trust
	// Budget, when set, bounds the envelope bytes that DiscoverAndGather
	// holds at once, shared with every other gather using it (the images
	// of a batch); see Budget and Bundle.Release.
	Budget *Budget
	// Memo, when set, is shared by the envelopes DiscoverAndGather reads
	// (attest.Envelope.Memoize), with every other gather using it (the
	// images of a batch, which often share a layout); nil gives each
	// gather its own.
	Memo *attest.Memo
	// ListedEnvelopes lets DiscoverAndGather read a referee layout or
	// link straight from a registry's referrers API listing, whose
	// entries carry the manifest's annotations: the envelope the
	// AnnotationEnvelopeDigest annotation names is fetched (or taken
	// from AnnotationEnvelopeData when the entry carries it), and the
	// referrer's manifest is not read (see DiscoverAndGather). Nothing
	// else, nor a listing of the referrers tag schema, is read so.
	ListedEnvelopes bool
	// Listed, when set for the subject, is its referrers as
	// ListReferrersWithin listed them (within these bounds), ahead of
	// the walk: they are not listed again (promote.Check lists them
	// while it resolves the image, saving a round trip).
	Listed *Listing

	// onListed, when set, is called with every listed referrer and its
	// descriptor as the listing gave it, before its manifest is fetched;
	// when it returns true it has filled the node from the listing and
	// the manifest is not fetched;
	// onRead with every referrer whose manifest was read, names its
	// parent as subject and is of ArtifactType if one is set, from the
	// goroutine that read it. DiscoverAndGather fetches envelopes there.
	// gate, when set, is taken around every request, so that Parallel
	// bounds those fetches too.
	onListed func(*Node, ocispec.Descriptor) bool
	onRead   func(*Node)
	gate     chan struct{}
	// noContent skips Node.FromContent (Copy does not show the graph).
	noContent bool
}

// ContentSummary is what a signed in-toto document says of itself, read
// from its content without checking any signature.
type ContentSummary struct {
	// Kind is "layout" or "link".
	Kind string `json:"kind"`
	// Step is a link's step name.
	Step string `json:"step,omitempty"`
	// KeyIDs are the keyids the signatures name.
	KeyIDs []string `json:"keyids,omitempty"`
	// Expires is a layout's expiry.
	Expires string `json:"expires,omitempty"`
}

// DefaultParallel bounds concurrent requests to one store: wide enough that
// an image's referrers are fetched in one round whatever their number in
// practice, bounded so that a huge listing cannot open unbounded
// connections.
const DefaultParallel = 64

// manifestHead is what referee reads of any manifest or index.
type manifestHead struct {
	MediaType    string               `json:"mediaType"`
	ArtifactType string               `json:"artifactType"`
	Config       *ocispec.Descriptor  `json:"config"`
	Subject      *ocispec.Descriptor  `json:"subject"`
	Layers       []ocispec.Descriptor `json:"layers"`
	Manifests    []ocispec.Descriptor `json:"manifests"`
	Annotations  map[string]string    `json:"annotations"`
}

// Discover walks the referrer graph of subject: its referrers, their
// referrers, and so on, like `oras discover`. Each listed referrer's
// manifest is fetched (in parallel, bounded) and checked to name its parent
// as subject; one that does not is reported with a Problem and not
// followed. Cycles, depth and size are bounded.
func Discover(ctx context.Context, s content.ReadOnlyGraphStorage, subject ocispec.Descriptor, o DiscoverOptions) (*Node, error) {
	if o.MaxDepth <= 0 {
		o.MaxDepth = 8
	}
	if o.MaxNodes <= 0 {
		o.MaxNodes = DefaultMaxReferrers
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.MaxManifestBytes <= 0 {
		o.MaxManifestBytes = DefaultMaxManifestBytes
	}
	if o.MaxBlobBytes <= 0 {
		o.MaxBlobBytes = DefaultMaxBlobBytes
	}
	// Referrers without referee's annotations are described by their
	// content for display; DiscoverAndGather reads every envelope itself.
	describe := !o.noContent && o.onRead == nil
	bud := newBudget()
	root := &Node{Digest: subject.Digest.String(), MediaType: subject.MediaType, Size: subject.Size, desc: subject}
	// followed holds the manifests whose subject is the parent they were
	// listed under. Only those are walked, once each: a manifest names one
	// subject, so they form a tree (a cycle would need a hash collision).
	// A manifest listed under the wrong parent is reported there as a
	// problem and may still be followed under the parent it names.
	followed := map[string]bool{root.Digest: true}
	count := 0 // referrers, the subject not counted
	level := []*Node{root}
	for depth := 1; len(level) > 0; depth++ {
		if depth > 1 && o.Follow != nil {
			level = slices.DeleteFunc(level, func(n *Node) bool { return !o.Follow(n) })
			if len(level) == 0 {
				break
			}
		}
		// Two rounds per level, each in parallel: list the referrers of
		// every node of the level, then fetch every listed manifest. The
		// number of sequential round trips depends on the depth of the
		// graph, not on its width.
		lists := make([][]ocispec.Descriptor, len(level))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(o.Parallel)
		for i, parent := range level {
			if parent == root && o.Listed != nil && o.Listed.Subject == subject.Digest {
				lists[i] = slices.Clone(o.Listed.Referrers)
				continue
			}
			g.Go(func() error {
				if err := o.acquire(gctx); err != nil {
					return err
				}
				defer o.release()
				list, err := ListReferrersWithin(gctx, s, parent.desc, "", ListLimits{Max: o.MaxReferrers, Time: o.MaxListTime})
				lists[i] = list
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		// Nodes at the deepest allowed level are still listed, so a graph
		// exactly MaxDepth deep passes; referrers below it are an error.
		if depth > o.MaxDepth && slices.ContainsFunc(lists, func(l []ocispec.Descriptor) bool { return len(l) > 0 }) {
			return nil, fmt.Errorf("referrer graph of %s is deeper than %d", subject.Digest, o.MaxDepth)
		}
		var mu sync.Mutex
		var next []*Node
		listed := map[string]bool{}
		var children []listedChild
		for i, parent := range level {
			list := lists[i]
			sort.Slice(list, func(i, j int) bool { return list[i].Digest < list[j].Digest })
			for _, d := range list {
				key := parent.Digest + ">" + d.Digest.String()
				if followed[d.Digest.String()] || listed[key] {
					continue // a cycle, or one manifest listed twice
				}
				listed[key] = true
				if count++; count > o.MaxNodes {
					return nil, fmt.Errorf("referrer graph of %s has more than %d manifests below it", subject.Digest, o.MaxNodes)
				}
				child := &Node{Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size, desc: d}
				parent.Referrers = append(parent.Referrers, child)
				children = append(children, listedChild{parent, child, d})
			}
		}
		// Layouts first: every other document waits for the keys a layout
		// names, so a layout's fetch must not queue behind hundreds of
		// links. The graph keeps digest order.
		slices.SortStableFunc(children, func(a, b listedChild) int {
			return cmp.Compare(layoutRank(a.desc), layoutRank(b.desc))
		})
		g, gctx = errgroup.WithContext(ctx)
		g.SetLimit(o.Parallel)
		for _, lc := range children {
			parent, child, d := lc.parent, lc.child, lc.desc
			g.Go(func() error {
				ok := o.onListed != nil && o.onListed(child, d)
				if !ok {
					if err := o.acquire(gctx); err != nil {
						return err
					}
					ok = child.read(gctx, s, parent.desc, o)
					o.release()
					if child.err != nil {
						return child.err
					}
				}
				if ok {
					if o.onRead != nil && (o.ArtifactType == "" || child.ArtifactType == o.ArtifactType) {
						o.onRead(child)
					}
					if describe && (o.ArtifactType == "" || child.ArtifactType == o.ArtifactType) {
						if err := o.acquire(gctx); err != nil {
							return err
						}
						child.readContent(gctx, s, o.MaxBlobBytes, bud)
						o.release()
					}
					mu.Lock()
					next = append(next, child)
					mu.Unlock()
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for _, n := range next {
			followed[n.Digest] = true
		}
		if o.ArtifactType != "" {
			for _, n := range level {
				n.Referrers = filterType(n.Referrers, o.ArtifactType)
			}
			next = filterType(next, o.ArtifactType)
		}
		sort.Slice(next, func(i, j int) bool { return next[i].Digest < next[j].Digest })
		level = next
	}
	return root, nil
}

// listedChild is a referrer as a level of Discover lists it.
type listedChild struct {
	parent, child *Node
	desc          ocispec.Descriptor
}

// layoutRank is 0 for a listed referee layout, 1 for anything else.
func layoutRank(d ocispec.Descriptor) int {
	if d.ArtifactType == ArtifactTypeLayoutDSSE || d.ArtifactType == ArtifactTypeLayoutMetablock {
		return 0
	}
	return 1
}

// acquire takes a place at the gate, if there is one.
func (o DiscoverOptions) acquire(ctx context.Context) error {
	if o.gate == nil {
		return nil
	}
	select {
	case o.gate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o DiscoverOptions) release() {
	if o.gate != nil {
		<-o.gate
	}
}

// read fetches the node's manifest and fills the node from it; it reports
// whether the node is sound enough to follow.
func (n *Node) read(ctx context.Context, s content.Fetcher, parent ocispec.Descriptor, o DiscoverOptions) bool {
	data, err := fetchAll(ctx, s, n.desc, o.MaxManifestBytes)
	var tooLarge *tooLargeError
	switch {
	case errors.As(err, &tooLarge) || errors.Is(err, errdef.ErrNotFound):
		n.Problem = err.Error()
		return false
	case err != nil:
		// Bytes that do not match the listed digest, or a store that
		// fails: ignoring the referrer would let the store choose the
		// evidence (hide the current layout), so it is an error.
		n.err = fmt.Errorf("referrer %s of %s: %w", n.Digest, parent.Digest, err)
		return false
	}
	var m manifestHead
	if err := unmarshalStrict(data, &m); err != nil {
		n.Problem = fmt.Sprintf("manifest is not JSON: %v", err)
		return false
	}
	n.MediaType = m.MediaType
	n.ArtifactType = m.ArtifactType
	if n.ArtifactType == "" && m.Config != nil {
		n.ArtifactType = m.Config.MediaType
	}
	n.Annotations = withoutCarried(m.Annotations)
	n.desc.MediaType, n.desc.ArtifactType, n.desc.Annotations = m.MediaType, n.ArtifactType, m.Annotations
	n.layers = m.Layers
	if m.Manifests != nil {
		n.layers = m.Manifests
	}
	switch {
	case m.Subject == nil:
		n.Problem = "listed as a referrer but its manifest has no subject"
		return false
	case m.Subject.Digest != parent.Digest:
		n.Problem = fmt.Sprintf("listed as a referrer of %s but its manifest names subject %s", parent.Digest, m.Subject.Digest)
		return false
	}
	if n.ArtifactType == ArtifactTypeArtifact {
		info, problem := artifactOf(m.Layers, m.Annotations)
		if problem != "" {
			n.Problem = problem
			return false
		}
		n.Artifact = info
	}
	return true
}

// readContent fills n.FromContent when n carries no referee annotation
// and its one layer, within maxBlob, is a signed in-toto layout or link
// (as gather finds them for verification). Anything else, including a
// layer that cannot be read, leaves it nil: it is for display only, and
// verification reads the layer again and fails on what is wrong with it.
func (n *Node) readContent(ctx context.Context, s content.Fetcher, maxBlob int64, bud *budget) {
	if n.Annotations[AnnotationKind] != "" || len(n.layers) != 1 {
		return
	}
	docs, _, err := readDocuments(ctx, s, n, maxBlob, nil, bud)
	if err != nil || len(docs) != 1 {
		return
	}
	d := docs[0]
	c := &ContentSummary{Kind: d.Kind, KeyIDs: d.Envelope.SignerKeyIDs()}
	switch d.Kind {
	case "link":
		c.Step = d.Step
	case "layout":
		if l, err := attest.ParseLayout(d.Envelope.Payload); err == nil {
			c.Expires = l.Expires
		}
	}
	n.FromContent = c
}

func filterType(nodes []*Node, t string) []*Node {
	out := nodes[:0]
	for _, n := range nodes {
		if n.ArtifactType == t {
			out = append(out, n)
		}
	}
	return out
}
