package oci

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	"github.com/referee-dev/referee/attest"
)

// Document is one signed in-toto layout or link found among an image's
// referrers. Kind and, for links, Step come from the signed content; the
// step of a sublayout comes from its annotation (a layout has no name, as
// in-toto takes it from the file name).
type Document struct {
	// Referrer is the manifest that holds the document.
	Referrer *Node
	Kind     string
	Step     string
	Envelope *attest.Envelope
	// Raw is the envelope file as stored.
	Raw []byte
	// FileName is the name in-toto-verify expects: STEP.KEYID8.link, or
	// root.layout.
	FileName string
	// Sub holds the documents attached to a sublayout (its links).
	Sub []*Document
}

// Skipped is a referrer that looked like in-toto evidence but is not usable,
// and why.
type Skipped struct {
	Digest string `json:"digest"`
	Reason string `json:"reason"`
}

// Bundle is the in-toto evidence attached to one image.
type Bundle struct {
	Graph   *Node
	Layouts []*Document
	Links   []*Document
	Skipped []Skipped
}

// Gather walks subject's referrer graph and reads every in-toto envelope in
// it: referee's own artifacts and in-toto files attached by other tools.
// Envelope blobs are checked against digest and size and refused above
// maxBlob. Nothing here verifies signatures: that is verify's job.
func Gather(ctx context.Context, s content.ReadOnlyGraphStorage, graph *Node, maxBlob int64, parallel int) (*Bundle, error) {
	return gather(ctx, s, graph, maxBlob, parallel, nil, newBudget())
}

// fetched is what readDocuments found for one referrer.
type fetched struct {
	docs    []*Document
	problem string
	err     error
}

// DiscoverAndGather is Discover then Gather, pipelined, with the same
// result. Each referrer's envelopes are fetched as soon as its manifest has
// been read, while other manifests are still in flight, instead of after
// the whole graph is known. On a registry, an envelope whose digest the
// referrers listing announces (AnnotationEnvelopeDigest, which the registry
// copies from the manifest) is fetched by that digest at the same time as
// the manifest, saving a round trip. The listing stays a hint: such a blob
// is used only for a layer of the manifest, read and checked as before,
// with that very digest and size; otherwise the layer is fetched as
// Gather does. o.Parallel bounds the requests for listings and manifests
// and, separately, those for envelopes, so that a graph of up to Parallel
// referrers is still read in one round of each.
func DiscoverAndGather(ctx context.Context, s content.ReadOnlyGraphStorage, subject ocispec.Descriptor, o DiscoverOptions, maxBlob int64) (*Node, *Bundle, error) {
	if maxBlob <= 0 {
		maxBlob = DefaultMaxBlobBytes
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		pre   = map[*Node]fetched{}
		early = map[*Node]*speculated{}
	)
	o.gate = make(chan struct{}, o.Parallel)
	envelopes := DiscoverOptions{gate: make(chan struct{}, o.Parallel)}
	bud := newBudget()
	if bs, ok := s.(blobStorer); ok {
		o.onListed = func(n *Node, listed ocispec.Descriptor) {
			dg, err := digest.Parse(listed.Annotations[AnnotationEnvelopeDigest])
			if err != nil || (o.ArtifactType != "" && listed.ArtifactType != o.ArtifactType) {
				return
			}
			sp := &speculated{digest: dg, done: make(chan struct{})}
			mu.Lock()
			early[n] = sp
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(sp.done)
				if sp.err = envelopes.acquire(pctx); sp.err != nil {
					return
				}
				defer envelopes.release()
				sp.data, sp.err = fetchByDigest(pctx, bs, dg, maxBlob)
				if sp.err == nil {
					sp.err = bud.spend(len(sp.data))
				}
			}()
		}
	}
	o.onRead = func(n *Node) {
		mu.Lock()
		sp := early[n]
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sp != nil {
				// Wait before taking a place at the gate, which the
				// speculative fetch may still hold.
				select {
				case <-sp.done:
				case <-pctx.Done():
					return
				}
			}
			if envelopes.acquire(pctx) != nil {
				return // cancelled: gather reads it again, if it gets there
			}
			docs, problem, err := readDocuments(pctx, s, n, maxBlob, sp, bud)
			envelopes.release()
			mu.Lock()
			pre[n] = fetched{docs, problem, err}
			mu.Unlock()
		}()
	}
	graph, err := Discover(ctx, s, subject, o)
	if err != nil {
		cancel()
		wg.Wait()
		return nil, nil, err
	}
	wg.Wait()
	b, err := gather(ctx, s, graph, maxBlob, o.Parallel, pre, bud)
	if err != nil {
		return nil, nil, err
	}
	return graph, b, nil
}

// blobStorer is a registry repository, whose blobs can be fetched by
// digest alone.
type blobStorer interface {
	Blobs() registry.BlobStore
}

// DefaultMaxTotalBytes bounds all the envelope bytes read for one image,
// so that many referrers, or one listing a blob many times, cannot exhaust
// memory.
const DefaultMaxTotalBytes = 256 << 20

// maxLayersPerReferrer bounds the layers of one referrer that are read
// (referee writes one).
const maxLayersPerReferrer = 8

// budget is what is left of DefaultMaxTotalBytes in one gather.
type budget struct{ left atomic.Int64 }

func newBudget() *budget {
	b := &budget{}
	b.left.Store(DefaultMaxTotalBytes)
	return b
}

// spend takes n bytes from the budget, or fails once it is exhausted.
func (b *budget) spend(n int) error {
	if b.left.Add(-int64(n)) < 0 {
		return fmt.Errorf("the evidence attached to this image is more than %d bytes", DefaultMaxTotalBytes)
	}
	return nil
}

// speculated is an envelope blob fetched by the digest a referrers listing
// announced, before the manifest that should name it was read.
type speculated struct {
	digest digest.Digest
	done   chan struct{}
	data   []byte // checked against digest
	err    error
}

// fetchByDigest fetches a blob knowing only its digest: the size comes
// from the registry, is refused above limit before reading, and the
// content is checked against both.
func fetchByDigest(ctx context.Context, bs blobStorer, dg digest.Digest, limit int64) ([]byte, error) {
	desc, rc, err := bs.Blobs().FetchReference(ctx, dg.String())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if desc.Digest != dg {
		return nil, fmt.Errorf("fetching %s: the registry answered with %s", dg, desc.Digest)
	}
	if desc.Size > limit || desc.Size < 0 {
		return nil, &tooLargeError{desc, limit}
	}
	return content.ReadAll(rc, desc)
}

// fetchLayer fetches a layer as fetchAll does, unless a speculative fetch
// got exactly this digest and size; a failed speculation changes nothing.
func fetchLayer(ctx context.Context, s content.Fetcher, l ocispec.Descriptor, maxBlob int64, sp *speculated, bud *budget) ([]byte, error) {
	if sp != nil && l.Digest == sp.digest && l.Size >= 0 && l.Size <= maxBlob {
		select {
		case <-sp.done:
			if sp.err == nil && int64(len(sp.data)) == l.Size {
				return sp.data, nil
			}
		case <-ctx.Done():
		}
	}
	data, err := fetchAll(ctx, s, l, maxBlob)
	if err != nil {
		return nil, err
	}
	return data, bud.spend(len(data))
}

// gather is Gather, with the documents of some referrers already read.
func gather(ctx context.Context, s content.ReadOnlyGraphStorage, graph *Node, maxBlob int64, parallel int, pre map[*Node]fetched, bud *budget) (*Bundle, error) {
	if maxBlob <= 0 {
		maxBlob = DefaultMaxBlobBytes
	}
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	docs := map[*Node][]*Document{}
	var problems = map[*Node]string{}
	var nodes []*Node
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, c := range n.Referrers {
			if c.Problem == "" {
				nodes = append(nodes, c)
				walk(c)
			}
		}
	}
	walk(graph)
	results := make([][]*Document, len(nodes))
	errs := make([]string, len(nodes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, n := range nodes {
		if f, ok := pre[n]; ok {
			if f.err != nil {
				return nil, f.err
			}
			results[i], errs[i] = f.docs, f.problem
			continue
		}
		g.Go(func() error {
			var err error
			results[i], errs[i], err = readDocuments(gctx, s, n, maxBlob, nil, bud)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, n := range nodes {
		docs[n] = results[i]
		if errs[i] != "" {
			problems[n] = errs[i]
		}
	}
	b := &Bundle{Graph: graph}
	for _, n := range nodes {
		if p, ok := problems[n]; ok {
			b.Skipped = append(b.Skipped, Skipped{Digest: n.Digest, Reason: p})
		}
	}
	// Direct referrers of the image are root layouts and links; documents
	// attached to a sublayout's manifest are that sublayout's links.
	var place func(parent *Node, into *[]*Document, top bool)
	place = func(parent *Node, into *[]*Document, top bool) {
		for _, c := range parent.Referrers {
			for _, d := range docs[c] {
				if d.Kind == "layout" && d.Step == "" && top {
					b.Layouts = append(b.Layouts, d)
					continue
				}
				if d.Kind == "layout" && d.Step == "" {
					b.Skipped = append(b.Skipped, Skipped{Digest: c.Digest, Reason: "a layout attached below another referrer without a step annotation"})
					continue
				}
				if d.Kind == "layout" {
					place(c, &d.Sub, false)
				}
				*into = append(*into, d)
			}
		}
	}
	place(graph, &b.Links, true)
	sortDocs(b.Layouts)
	sortDocs(b.Links)
	return b, nil
}

// readDocuments reads the in-toto envelopes of one referrer; a referrer
// that does not look like in-toto evidence gives none. An envelope over
// maxBlob, or gone from the store, makes the referrer skipped (problem),
// as a deleted referrer is. Any other failure to fetch it, above all
// bytes that do not match the descriptor, is an error: skipping the
// referrer would let a lying or failing store choose the evidence (drop
// the current layout so that an older one is used).
func readDocuments(ctx context.Context, s content.Fetcher, n *Node, maxBlob int64, sp *speculated, bud *budget) ([]*Document, string, error) {
	var out []*Document
	if len(n.layers) > maxLayersPerReferrer {
		return nil, fmt.Sprintf("has %d layers; referee reads referrers of at most %d", len(n.layers), maxLayersPerReferrer), nil
	}
	seen := map[digest.Digest]bool{}
	for _, l := range n.layers {
		if !mayHoldInToto(n.ArtifactType, l.MediaType, l.Annotations[AnnotationTitle]) || seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		raw, err := fetchLayer(ctx, s, l, maxBlob, sp, bud)
		var tooLarge *tooLargeError
		switch {
		case errors.As(err, &tooLarge) || errors.Is(err, errdef.ErrNotFound):
			return nil, err.Error(), nil
		case err != nil:
			return nil, "", fmt.Errorf("referrer %s: %w", n.Digest, err)
		}
		env, err := attest.ParseEnvelope(raw)
		if err != nil {
			if IsRefereeType(n.ArtifactType) {
				return nil, fmt.Sprintf("layer %s: %v", l.Digest, err), nil
			}
			continue // another tool's artifact that is not an in-toto envelope
		}
		kind, err := env.PayloadKind()
		if err != nil || (kind != "layout" && kind != "link") {
			continue // e.g. an in-toto Statement (cosign, BuildKit): not evidence for a layout
		}
		d := &Document{Referrer: n, Kind: kind, Envelope: env, Raw: raw}
		keyid := firstKeyID(env)
		switch kind {
		case "link":
			link, err := attest.ParseLink(env.Payload)
			if err != nil {
				return nil, fmt.Sprintf("layer %s: %v", l.Digest, err), nil
			}
			d.Step = link.Name
			d.FileName = attest.LinkFileName(d.Step, keyid)
		case "layout":
			d.Step = n.Annotations[AnnotationStep]
			d.FileName = "root.layout"
			if d.Step != "" {
				d.FileName = attest.LinkFileName(d.Step, keyid)
			}
		}
		out = append(out, d)
	}
	return out, "", nil
}

// sortDocs orders documents newest first (by the creation annotation, a
// hint), then by digest, so that choices between re-runs are stable.
func sortDocs(ds []*Document) {
	sort.SliceStable(ds, func(i, j int) bool {
		ci, cj := ds[i].Referrer.Annotations[AnnotationCreated], ds[j].Referrer.Annotations[AnnotationCreated]
		if ci != cj {
			return ci > cj
		}
		return ds[i].Referrer.Digest < ds[j].Referrer.Digest
	})
}
