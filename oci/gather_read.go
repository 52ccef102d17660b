package oci

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	"github.com/referee-dev/referee/attest"
)

// maxLayersPerReferrer bounds the layers of one referrer that are read
// (referee writes one).
const maxLayersPerReferrer = 8

// blobStorer is a registry repository, whose blobs can be fetched by
// digest alone.
type blobStorer interface {
	Blobs() registry.BlobStore
}

// reader reads the envelopes of one gather: every byte read is spent from
// bud; with a shared Budget, each blob is held in lease from before it is
// fetched until it is dropped or the bundle released; with a screen, only
// trusted documents are kept whatever their size, and large blobs are
// screened at most two at a time (big), so that hostile ones are not all
// held at once. decode bounds the bytes being decoded at once, as decoding
// takes several times a blob's size.
type reader struct {
	s       content.Fetcher
	maxBlob int64
	bud     *budget
	lease   *lease
	screen  *screen
	decode  *semaphore.Weighted
	big     *semaphore.Weighted
	// gate, when set, bounds the envelopes fetched and read at once. No
	// one waits for room in big or lease while holding it, so that those
	// holding them can always go on.
	gate chan struct{}
	// memo is what the envelopes read share (attest.Envelope.Memoize).
	memo *attest.Memo
}

// hold is what a fetched blob holds until it is kept or dropped: bytes of
// the lease and of reader.big.
type hold struct{ lease, big int64 }

func newReader(s content.Fetcher, maxBlob int64, t *Trust, shared *Budget, memo *attest.Memo) *reader {
	if maxBlob <= 0 {
		maxBlob = DefaultMaxBlobBytes
	}
	if memo == nil {
		memo = attest.NewMemo()
	}
	r := &reader{s: s, maxBlob: maxBlob, bud: newBudget(), lease: shared.open(), screen: newScreen(t), big: semaphore.NewWeighted(2 * DefaultMaxBlobBytes), memo: memo}
	if shared != nil {
		r.decode = shared.decode
	} else {
		r.decode = semaphore.NewWeighted(DefaultMaxBlobBytes)
	}
	return r
}

// readDocuments reads the in-toto envelopes of one referrer, without
// checking signatures; a referrer that does not look like in-toto
// evidence gives none. An envelope over maxBlob, or gone from the store,
// makes the referrer skipped (problem), as a deleted referrer is. Any other
// failure to fetch it, above all bytes that do not match the descriptor,
// is an error: skipping the referrer would let a lying or failing store
// choose the evidence (drop the current layout so that an older one is
// used).
func readDocuments(ctx context.Context, s content.Fetcher, n *Node, maxBlob int64, sp *speculated, bud *budget) ([]*Document, string, error) {
	r := newReader(s, maxBlob, nil, nil, nil)
	r.bud = bud
	return r.readDocuments(ctx, n, sp)
}

// readDocuments is readDocuments with r's bounds and screen; sp, when
// set, is the speculative fetch of one of n's layers.
func (r *reader) readDocuments(ctx context.Context, n *Node, sp *speculated) ([]*Document, string, error) {
	if len(n.layers) > maxLayersPerReferrer {
		r.unused(sp)
		return nil, fmt.Sprintf("has %d layers; referee reads referrers of at most %d", len(n.layers), maxLayersPerReferrer), nil
	}
	var layers []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, l := range n.layers {
		if mayHoldInToto(n.ArtifactType, l.MediaType, l.Annotations[AnnotationTitle]) && !seen[l.Digest] {
			seen[l.Digest] = true
			layers = append(layers, l)
		}
	}
	// The speculated layer first: the referrer then never waits for room
	// while its speculation holds some.
	if sp != nil {
		i := slices.IndexFunc(layers, func(l ocispec.Descriptor) bool { return l.Digest == sp.digest })
		if i < 0 {
			r.unused(sp)
		} else {
			l := layers[i]
			layers = append(append([]ocispec.Descriptor{l}, layers[:i]...), layers[i+1:]...)
		}
	}
	var out []*Document
	for _, l := range layers {
		d, problem, err := r.readLayer(ctx, n, l, sp, false)
		if err != nil || problem != "" {
			for _, d := range out {
				r.discard(d)
			}
			r.unused(sp)
			return nil, problem, err
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out, "", nil
}

// readLayer fetches and admits one layer (see admit). A layer over
// maxBlob, or gone from the store, is a problem; any other failure an
// error.
func (r *reader) readLayer(ctx context.Context, n *Node, l ocispec.Descriptor, sp *speculated, final bool) (*Document, string, error) {
	raw, h, ok := r.speculation(ctx, l, sp)
	if !ok && l.Size >= 0 && l.Size <= r.maxBlob {
		var err error
		if h, err = r.take(ctx, l.Size); err != nil {
			return nil, "", err
		}
	}
	defer r.big.Release(h.big)
	if err := r.enter(ctx); err != nil {
		r.lease.release(h.lease)
		return nil, "", err
	}
	defer r.leave()
	if !ok {
		data, err := fetchAll(ctx, r.s, l, r.maxBlob)
		if err == nil {
			err = r.bud.spend(len(data))
		}
		var tooLarge *tooLargeError
		switch {
		case err == nil:
			raw = data
		case errors.As(err, &tooLarge):
			// A link of a step with a few hundred thousand artifacts
			// is tens of MB: say how to read it.
			r.lease.release(h.lease)
			return nil, err.Error() + " (--max-blob-size raises the limit)", nil
		case errors.Is(err, errdef.ErrNotFound):
			r.lease.release(h.lease)
			return nil, err.Error(), nil
		default:
			r.lease.release(h.lease)
			return nil, "", fmt.Errorf("referrer %s: %w", n.Digest, err)
		}
	}
	return r.admit(ctx, n, l, raw, h.lease, final)
}

func (r *reader) enter(ctx context.Context) error {
	if r.gate == nil {
		return nil
	}
	select {
	case r.gate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *reader) leave() {
	if r.gate != nil {
		<-r.gate
	}
}

// discard forgets a document read but not kept after all.
func (r *reader) discard(d *Document) {
	if r.screen != nil {
		r.screen.unpool(d)
	}
	r.lease.release(d.weight)
}

// speculated is an envelope blob fetched by the digest a referrers listing
// announced, before the manifest that should name it was read.
type speculated struct {
	digest digest.Digest
	done   chan struct{}
	data   []byte // checked against digest
	hold   hold
	err    error
	// used: a layer took data and hold; released: they were dropped.
	used, released bool
}

// speculation returns the blob of a speculative fetch that got exactly
// l's digest and size, and what it holds; a failed or unusable
// speculation is dropped and changes nothing.
func (r *reader) speculation(ctx context.Context, l ocispec.Descriptor, sp *speculated) ([]byte, hold, bool) {
	if sp == nil || l.Digest != sp.digest {
		return nil, hold{}, false
	}
	select {
	case <-sp.done:
	case <-ctx.Done():
		return nil, hold{}, false
	}
	if sp.err != nil || sp.used || sp.released || int64(len(sp.data)) != l.Size || l.Size > r.maxBlob {
		r.unused(sp)
		return nil, hold{}, false
	}
	sp.used = true
	data := sp.data
	sp.data = nil
	return data, sp.hold, true
}

// unused drops a speculative fetch that no layer took.
func (r *reader) unused(sp *speculated) {
	if sp == nil || sp.used || sp.released {
		return
	}
	select {
	case <-sp.done:
	default:
		return // still fetching: dropped once done (DiscoverAndGather)
	}
	sp.released = true
	sp.data = nil
	r.release(sp.hold)
}

func (r *reader) release(h hold) {
	r.lease.release(h.lease)
	r.big.Release(h.big)
}

// take acquires what a blob of size holds while it is fetched and
// screened, waiting for room.
func (r *reader) take(ctx context.Context, size int64) (hold, error) {
	h := hold{big: r.bigWeight(size)}
	// (A zero weight would still queue behind waiters.)
	if h.big > 0 {
		if err := r.big.Acquire(ctx, h.big); err != nil {
			return hold{}, err
		}
	}
	if err := r.lease.acquire(ctx, size); err != nil {
		r.big.Release(h.big)
		return hold{}, err
	}
	h.lease = size
	return h, nil
}

// tryTake is take without waiting.
func (r *reader) tryTake(size int64) (hold, bool) {
	h := hold{big: r.bigWeight(size)}
	if h.big > 0 && !r.big.TryAcquire(h.big) {
		return hold{}, false
	}
	if !r.lease.tryAcquire(size) {
		r.big.Release(h.big)
		return hold{}, false
	}
	h.lease = size
	return h, true
}

// bigWeight is what a blob of size takes of reader.big: nothing unless it
// is screened unread (see admitLarge).
func (r *reader) bigWeight(size int64) int64 {
	if r.screen == nil || size <= maxPooledDoc {
		return 0
	}
	return min(size, DefaultMaxBlobBytes)
}

// errNoRoom ends a speculative fetch that would have to wait for room.
var errNoRoom = errors.New("no room to fetch ahead")

// fetchByDigest fetches a blob knowing only its digest: the size comes
// from the registry, is refused above maxBlob before reading, and the
// content is checked against both. It never waits for room (errNoRoom),
// as it holds a place at the gate.
func (r *reader) fetchByDigest(ctx context.Context, bs blobStorer, dg digest.Digest) ([]byte, hold, error) {
	desc, rc, err := bs.Blobs().FetchReference(ctx, dg.String())
	if err != nil {
		return nil, hold{}, err
	}
	defer rc.Close()
	if desc.Digest != dg {
		return nil, hold{}, fmt.Errorf("fetching %s: the registry answered with %s", dg, desc.Digest)
	}
	if desc.Size > r.maxBlob || desc.Size < 0 {
		return nil, hold{}, &tooLargeError{desc, r.maxBlob}
	}
	h, ok := r.tryTake(desc.Size)
	if !ok {
		return nil, hold{}, errNoRoom
	}
	data, err := content.ReadAll(rc, desc)
	if err == nil {
		err = r.bud.spend(len(data))
	}
	if err != nil {
		r.release(h)
		return nil, hold{}, err
	}
	return data, h, nil
}

// finish fetches again the dropped documents that keys trusted since may
// sign, until no more keys come, adds those kept to results (by node),
// and reports the others.
func (r *reader) finish(ctx context.Context, nodes []*Node, results [][]*Document, problems []string, parallel int) ([]Skipped, error) {
	if r.screen == nil {
		return nil, nil
	}
	index := map[*Node]int{}
	for i, n := range nodes {
		index[n] = i
	}
	for {
		r.screen.recheckPool()
		again := r.screen.retry()
		if len(again) == 0 {
			break
		}
		got := make([]*Document, len(again))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallel)
		for i, dr := range again {
			if problems[index[dr.node]] != "" {
				continue
			}
			g.Go(func() error {
				d, problem, err := r.readLayer(gctx, dr.node, dr.layer, nil, true)
				if problem != "" {
					dr.reason = problem
				}
				if d != nil {
					dr.kept = true
					got[i] = d
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for _, d := range got {
			if d != nil {
				i := index[d.Referrer]
				results[i] = append(results[i], d)
			}
		}
	}
	var out []Skipped
	for _, dr := range r.screen.dropped {
		if !dr.kept && problems[index[dr.node]] == "" {
			out = append(out, Skipped{Digest: dr.node.Digest, Reason: dr.reason})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Digest != out[j].Digest {
			return out[i].Digest < out[j].Digest
		}
		return out[i].Reason < out[j].Reason
	})
	return out, nil
}
