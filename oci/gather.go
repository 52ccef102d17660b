package oci

import (
	"context"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"

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
	// Raw is the envelope file as stored; nil when gathered with
	// DiscoverOptions.Trust (verification needs only the envelope).
	Raw []byte
	// FileName is the name in-toto-verify expects: STEP.KEYID8.link, or
	// root.layout.
	FileName string
	// Sub holds the documents attached to a sublayout (its links).
	Sub []*Document

	// weight is what the document holds of a shared Budget.
	weight int64
	// link and signed are the link as parseDocument read it
	// (attest.ScanLink), kept only for a small link that the screen
	// trusted (ScannedLink).
	link   *attest.CompactLink
	signed *attest.SignedContent
}

// maxScanKept is the largest link payload whose scan a trusted Document
// keeps (ScannedLink): a link of some hundreds of artifacts, whose table
// takes about what its payload does. A larger link's table is built again
// by the engine, within the engine's own memory bound.
const maxScanKept = 64 << 10

// ScannedLink is the link d holds as the gather read it (attest.ScanLink:
// checked whole, with the bytes its signatures cover), when d is a link
// of at most maxScanKept bytes of payload that the evidence screen
// trusted; ok is false otherwise, and the engine reads the envelope
// itself. The tables are shared: a caller that changes them works on
// CompactLink.Clone.
func (d *Document) ScannedLink() (l *attest.CompactLink, signed *attest.SignedContent, ok bool) {
	return d.link, d.signed, d.link != nil
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
	// Listed counts the referrers read from the registry's listing alone,
	// their manifests not read (DiscoverOptions.ListedEnvelopes).
	Listed int

	lease *lease
	stop  func() bool // the release when the context ends
}

// Release gives back to DiscoverOptions.Budget what the bundle's
// documents hold of it: call it when done with them (when verification
// ends); it is also done when the context given to DiscoverAndGather
// ends. Without a Budget it does nothing; it may be called more than
// once.
func (b *Bundle) Release() {
	if b == nil {
		return
	}
	if b.stop != nil {
		b.stop()
	}
	b.lease.close()
}

// Gather walks subject's referrer graph and reads every in-toto envelope in
// it: referee's own artifacts and in-toto files attached by other tools.
// Envelope blobs are checked against digest and size and refused above
// maxBlob. Nothing here verifies signatures: that is verify's job.
func Gather(ctx context.Context, s content.ReadOnlyGraphStorage, graph *Node, maxBlob int64, parallel int) (*Bundle, error) {
	return gather(ctx, newReader(s, maxBlob, nil, nil, nil), graph, parallel, nil)
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
// the manifest, saving a round trip, or taken from the listing itself when
// the entry carries it (AnnotationEnvelopeData) with that very digest,
// saving the request. The listing stays a hint: such a blob
// is used only for a layer of the manifest, read and checked as before,
// with that very digest and size; otherwise the layer is fetched as
// Gather does. o.Parallel bounds the requests for listings and manifests
// and, separately, those for envelopes, so that a graph of up to Parallel
// referrers is still read in one round of each.
//
// With o.ListedEnvelopes, a referee layout or link (not a sublayout) that
// the registry's referrers API lists with its envelope's digest is read
// from that envelope alone, without its manifest: the listing is then
// the registry's account of a manifest that names the subject, with that
// manifest's annotations, and the envelope binds to the image by what it
// signs, not by where it was found. Whoever can push could have attached
// the same envelope under a manifest of their own, so nothing is admitted
// that reading manifests would not admit. Where the envelope cannot be
// fetched so (not there, over maxBlob, other bytes than its digest), the
// manifest is read as usual; a tag-schema listing, which whoever can push
// may write, is never used so. Bundle.Listed counts the referrers read so.
//
// With o.Trust, only documents signed by a trusted key are kept whatever
// their size (see Trust), and each is checked as it arrives, before its
// payload is read; with o.Budget, envelope bytes wait for room in it, and
// the bundle holds its documents' share until Bundle.Release or the end
// of ctx, whichever comes first.
func DiscoverAndGather(ctx context.Context, s content.ReadOnlyGraphStorage, subject ocispec.Descriptor, o DiscoverOptions, maxBlob int64) (*Node, *Bundle, error) {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	r := newReader(s, maxBlob, o.Trust, o.Budget, o.Memo)
	stop := func() bool { return false }
	if r.lease != nil {
		stop = context.AfterFunc(ctx, r.lease.close)
	}
	abandon := func() {
		stop()
		r.lease.close()
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
	r.gate = envelopes.gate
	if bs, ok := s.(blobStorer); ok {
		o.onListed = func(n *Node, listed ocispec.Descriptor) bool {
			dg, err := digest.Parse(listed.Annotations[AnnotationEnvelopeDigest])
			if err != nil || (o.ArtifactType != "" && listed.ArtifactType != o.ArtifactType) || isArtifactListing(listed) {
				return false // an artifact referrer's blob is the file, never an envelope
			}
			sp := &speculated{digest: dg, done: make(chan struct{})}
			mu.Lock()
			early[n] = sp
			mu.Unlock()
			if data, h, ok := r.inlineEnvelope(listed, dg); ok {
				sp.data, sp.hold = data, h // carried by the listing itself
				close(sp.done)
			} else {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer close(sp.done)
					if sp.err = envelopes.acquire(pctx); sp.err != nil {
						return
					}
					defer envelopes.release()
					sp.data, sp.hold, sp.err = r.fetchByDigest(pctx, bs, dg)
				}()
			}
			if !o.ListedEnvelopes || o.ArtifactType != "" || !listedDocument(listed) || !listedByAPI(s) {
				return false
			}
			select {
			case <-sp.done:
			case <-pctx.Done():
				return false
			}
			if sp.err != nil {
				return false // the manifest says where the envelope is
			}
			n.fromListing(listed, dg, int64(len(sp.data)))
			return true
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
				select {
				case <-sp.done:
				case <-pctx.Done():
					return
				}
			}
			// Each fetch takes a place at the gate (reader.gate).
			docs, problem, err := r.readDocuments(pctx, n, sp)
			r.unused(sp)
			mu.Lock()
			pre[n] = fetched{docs, problem, err}
			mu.Unlock()
		}()
	}
	// Room for a manifest and an envelope request per referrer at once
	// (each has its gate, of o.Parallel places).
	walk := o
	walk.Parallel = 2 * o.Parallel
	graph, err := Discover(ctx, s, subject, walk)
	cleanup := func() {
		for _, sp := range early {
			r.unused(sp) // never read: its manifest had a problem
		}
	}
	if err != nil {
		cancel()
		wg.Wait()
		cleanup()
		abandon()
		return nil, nil, err
	}
	wg.Wait()
	cleanup()
	b, err := gather(ctx, r, graph, o.Parallel, pre)
	if err != nil {
		abandon()
		return nil, nil, err
	}
	b.stop = stop
	return graph, b, nil
}

// gather is Gather, with the documents of some referrers already read.
func gather(ctx context.Context, r *reader, graph *Node, parallel int, pre map[*Node]fetched) (*Bundle, error) {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
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
	for _, n := range nodes {
		if f, ok := pre[n]; ok && f.err != nil {
			return nil, f.err
		}
	}
	for i, n := range nodes {
		if f, ok := pre[n]; ok {
			results[i], errs[i] = f.docs, f.problem
			continue
		}
		g.Go(func() error {
			var err error
			results[i], errs[i], err = r.readDocuments(gctx, n, nil)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	skipped, err := r.finish(ctx, nodes, results, errs, parallel)
	if err != nil {
		return nil, err
	}
	docs := map[*Node][]*Document{}
	problems := map[*Node]string{}
	for i, n := range nodes {
		docs[n] = results[i]
		if errs[i] != "" {
			problems[n] = errs[i]
		}
	}
	b := &Bundle{Graph: graph, lease: r.lease}
	for _, n := range nodes {
		if p, ok := problems[n]; ok {
			b.Skipped = append(b.Skipped, Skipped{Digest: n.Digest, Reason: p})
		}
		if n.listed {
			b.Listed++
		}
	}
	b.Skipped = append(b.Skipped, skipped...)
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

// listedDocument reports whether a referrers API listing entry may be read
// from the listing alone: a referee layout or link (not a sublayout, whose
// own referrers are listed from its manifest's annotations).
func listedDocument(listed ocispec.Descriptor) bool {
	switch listed.Annotations[AnnotationKind] {
	case "link":
	case "layout":
		if listed.Annotations[AnnotationStep] != "" {
			return false
		}
	default:
		return false
	}
	return IsRefereeType(listed.ArtifactType)
}

// fromListing describes n from its referrers API listing entry, as its
// manifest would: type and annotations as listed, one layer, the envelope
// the annotation names, of the size fetched.
func (n *Node) fromListing(listed ocispec.Descriptor, envelope digest.Digest, size int64) {
	n.ArtifactType = listed.ArtifactType
	n.Annotations = withoutCarried(listed.Annotations)
	media := MediaTypeDSSE
	if listed.ArtifactType == ArtifactTypeLayoutMetablock || listed.ArtifactType == ArtifactTypeLinkMetablock {
		media = MediaTypeMetablock
	}
	n.layers = []ocispec.Descriptor{{MediaType: media, Digest: envelope, Size: size}}
	n.listed = true
}
