package oci

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/internal/termsafe"
)

// DefaultMaxArtifactTotalBytes bounds all the bytes one ArtifactSet reads
// when ArtifactSetOptions.MaxTotalBytes is zero.
const DefaultMaxArtifactTotalBytes = 1 << 30

// ArtifactInfo is one artifact referrer: the file it holds and where.
type ArtifactInfo struct {
	// Path is the artifact's path (its title).
	Path string `json:"path"`
	// Digest is the file's digest (sha256:hex), the layer's.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Referrer is the artifact referrer's manifest digest.
	Referrer string `json:"referrer,omitempty"`
	// Step is the step the attacher said records it (a hint).
	Step string `json:"step,omitempty"`
}

// ArtifactSetOptions bounds what an ArtifactSet reads.
type ArtifactSetOptions struct {
	// MaxBytes refuses larger artifacts; zero means
	// DefaultMaxArtifactBytes.
	MaxBytes int64
	// MaxTotalBytes bounds all the artifact bytes read through the set;
	// zero means DefaultMaxArtifactTotalBytes.
	MaxTotalBytes int64
	// List bounds the referrers listing (NewArtifactSet).
	List ListLimits
	// MaxManifestBytes refuses larger manifests; zero means the default.
	MaxManifestBytes int64
	// Parallel bounds the manifests read at once (NewArtifactSet); zero
	// means DefaultParallel.
	Parallel int
}

// ArtifactSet gives the files attached to one image as artifact referrers
// (AttachArtifact), by path and sha256: it implements verify.Artifacts.
// It is safe for concurrent use.
type ArtifactSet struct {
	s       content.Fetcher
	subject ocispec.Descriptor
	o       ArtifactSetOptions
	byKey   map[artifactKey][]*artifactEntry
	all     []*artifactEntry

	mu      sync.Mutex
	spent   int64
	counted map[digest.Digest]bool // blobs read whole, counted once against MaxTotalBytes
	used    map[digest.Digest]ocispec.Descriptor
}

type artifactKey struct {
	path   string
	digest digest.Digest
}

// artifactEntry is one artifact referrer. One known from the listing
// alone is confirmed from its manifest before its blob is read.
type artifactEntry struct {
	info     ArtifactInfo
	manifest ocispec.Descriptor
	layer    ocispec.Descriptor
	created  string

	mu        sync.Mutex // over confirmed and problem, while confirming
	confirmed bool       // read from the manifest, or confirmed by it
	problem   string
}

// ArtifactsOf is the set of the artifact referrers in graph (the image's
// own referrers, as Discover or DiscoverAndGather read them from their
// manifests), with no further request until an artifact is asked for:
// verification walks the graph once and hands the set to the engine. A
// nil graph gives an empty set.
func ArtifactsOf(s content.Fetcher, graph *Node, o ArtifactSetOptions) *ArtifactSet {
	if graph == nil {
		return newArtifactSet(s, ocispec.Descriptor{}, o)
	}
	a := newArtifactSet(s, graph.desc, o)
	for _, n := range graph.Referrers {
		if n.Problem != "" || n.ArtifactType != ArtifactTypeArtifact {
			continue
		}
		info, problem := artifactOf(n.layers, n.Annotations)
		if problem != "" {
			continue
		}
		a.add(&artifactEntry{info: *info, manifest: n.desc, layer: n.layers[0], created: n.Annotations[AnnotationCreated], confirmed: true})
	}
	a.index()
	return a
}

// NewArtifactSet lists image's artifact referrers (filtered by
// ArtifactTypeArtifact) and knows each by the path and layer digest the
// listing's annotations announce (AnnotationTitle and
// AnnotationEnvelopeDigest, which registries copy from the manifest), so
// that no manifest is read yet; a listed entry without them has its
// manifest read now (bounded, in parallel). The listing is a hint: before
// an artifact's blob is read, its manifest is read and must name image as
// its subject, have the artifact type, and one layer of that digest
// titled with that path.
func NewArtifactSet(ctx context.Context, s Store, image ocispec.Descriptor, o ArtifactSetOptions) (*ArtifactSet, error) {
	list, err := ListReferrersWithin(ctx, s, image, ArtifactTypeArtifact, o.List)
	if err != nil {
		return nil, err
	}
	a := newArtifactSet(s, image, o)
	var read []ocispec.Descriptor
	for _, d := range list {
		title := d.Annotations[AnnotationTitle]
		dg, err := digest.Parse(d.Annotations[AnnotationEnvelopeDigest])
		if err != nil || CheckArtifactPath(title) != nil || dg.Algorithm() != digest.SHA256 {
			read = append(read, d)
			continue
		}
		a.add(&artifactEntry{
			info:     ArtifactInfo{Path: title, Digest: dg.String(), Size: -1, Referrer: d.Digest.String(), Step: d.Annotations[AnnotationStep]},
			manifest: d, layer: ocispec.Descriptor{Digest: dg, Size: -1}, created: d.Annotations[AnnotationCreated],
		})
	}
	entries := make([]*artifactEntry, len(read))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.parallel())
	for i, d := range read {
		g.Go(func() error {
			m, err := FetchManifest(gctx, s, d, a.maxManifest())
			if err != nil {
				return fmt.Errorf("artifact referrer %s of %s: %w", d.Digest, image.Digest, err)
			}
			if problem := a.checkManifest(m); problem != "" {
				return nil // listed, but no artifact referrer of image
			}
			info, _ := artifactOf(m.Layers, m.Annotations)
			desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: d.Digest, Size: d.Size, ArtifactType: m.ArtifactType, Annotations: m.Annotations}
			entries[i] = &artifactEntry{info: *info, manifest: desc, layer: m.Layers[0], created: m.Annotations[AnnotationCreated], confirmed: true}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e != nil {
			a.add(e)
		}
	}
	a.index()
	return a, nil
}

func newArtifactSet(s content.Fetcher, subject ocispec.Descriptor, o ArtifactSetOptions) *ArtifactSet {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxArtifactBytes
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = DefaultMaxArtifactTotalBytes
	}
	return &ArtifactSet{s: s, subject: subject, o: o, byKey: map[artifactKey][]*artifactEntry{}, counted: map[digest.Digest]bool{}, used: map[digest.Digest]ocispec.Descriptor{}}
}

func (a *ArtifactSet) parallel() int {
	if a.o.Parallel > 0 {
		return a.o.Parallel
	}
	return DefaultParallel
}

func (a *ArtifactSet) maxManifest() int64 {
	if a.o.MaxManifestBytes > 0 {
		return a.o.MaxManifestBytes
	}
	return DefaultMaxManifestBytes
}

func (a *ArtifactSet) add(e *artifactEntry) {
	e.info.Referrer = e.manifest.Digest.String()
	a.all = append(a.all, e)
}

// index orders the entries (by path, newest first, then by referrer) and
// indexes them by path and digest.
func (a *ArtifactSet) index() {
	sort.SliceStable(a.all, func(i, j int) bool {
		x, y := a.all[i], a.all[j]
		switch {
		case x.info.Path != y.info.Path:
			return x.info.Path < y.info.Path
		case x.created != y.created:
			return x.created > y.created
		}
		return x.info.Referrer < y.info.Referrer
	})
	for _, e := range a.all {
		k := artifactKey{e.info.Path, e.layer.Digest}
		a.byKey[k] = append(a.byKey[k], e)
	}
	// The candidates for one file hold the same bytes: the creation hint,
	// which anyone who can push chooses, does not order them (Artifact
	// tries each until one is readable).
	for _, cands := range a.byKey {
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].info.Referrer < cands[j].info.Referrer })
	}
}

// artifactOf reads an artifact referrer's one layer as the file it holds,
// or says what is wrong with it.
func artifactOf(layers []ocispec.Descriptor, ann map[string]string) (*ArtifactInfo, string) {
	if len(layers) != 1 {
		return nil, fmt.Sprintf("an artifact referrer with %d layers, not one", len(layers))
	}
	l := layers[0]
	title := l.Annotations[AnnotationTitle]
	if mt := ann[AnnotationTitle]; title == "" {
		title = mt
	} else if mt != "" && mt != title {
		return nil, fmt.Sprintf("an artifact referrer whose manifest names path %s and whose layer names %s", termsafe.Quote(bounded(mt)), termsafe.Quote(bounded(title)))
	}
	if err := CheckArtifactPath(title); err != nil {
		return nil, "an artifact referrer with a bad path: " + err.Error()
	}
	if l.Digest.Algorithm() != digest.SHA256 || l.Digest.Validate() != nil {
		return nil, fmt.Sprintf("an artifact referrer whose layer digest %s is not sha256", termsafe.Quote(bounded(l.Digest.String())))
	}
	if l.Size < 0 {
		return nil, "an artifact referrer whose layer has a negative size"
	}
	return &ArtifactInfo{Path: title, Digest: l.Digest.String(), Size: l.Size, Step: ann[AnnotationStep]}, ""
}

// checkManifest says why m is not an artifact referrer of the set's
// subject ("" when it is one).
func (a *ArtifactSet) checkManifest(m *ocispec.Manifest) string {
	at := m.ArtifactType
	if at == "" {
		at = m.Config.MediaType
	}
	switch {
	case m.Subject == nil || m.Subject.Digest != a.subject.Digest:
		return "its manifest names another subject"
	case at != ArtifactTypeArtifact:
		return fmt.Sprintf("its manifest has artifact type %s", termsafe.Quote(bounded(at)))
	}
	_, problem := artifactOf(m.Layers, m.Annotations)
	return problem
}

// confirmEntry reads the manifest of an entry known from the listing
// alone, once: it must be an artifact referrer of the subject with the
// listed path and layer digest, whose size it then takes.
func (a *ArtifactSet) confirmEntry(ctx context.Context, e *artifactEntry) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.confirmed && e.problem == "" {
		m, err := FetchManifest(ctx, a.s, e.manifest, a.maxManifest())
		if err != nil {
			return fmt.Errorf("artifact referrer %s: %w", e.manifest.Digest, err) // not remembered: it may be the network's
		}
		e.problem = a.checkManifest(m)
		if e.problem == "" {
			info, _ := artifactOf(m.Layers, m.Annotations)
			switch {
			case info.Path != e.info.Path:
				e.problem = fmt.Sprintf("listed with path %s, but its manifest names %s", termsafe.Quote(e.info.Path), termsafe.Quote(info.Path))
			case m.Layers[0].Digest != e.layer.Digest:
				e.problem = fmt.Sprintf("listed with blob %s, but its manifest names %s", e.layer.Digest, m.Layers[0].Digest)
			default:
				a.mu.Lock()
				e.layer, e.info.Size, e.confirmed = m.Layers[0], m.Layers[0].Size, true
				a.mu.Unlock()
			}
		}
	}
	if e.problem != "" {
		return unavailable(fmt.Sprintf("artifact referrer %s: %s", e.manifest.Digest, e.problem))
	}
	return nil
}

// Paths returns the artifact referrers of the set, by path, the newest
// (by their creation annotation, a hint) first; those known from the
// listing alone have Size -1 until read.
func (a *ArtifactSet) Paths() []ArtifactInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ArtifactInfo, len(a.all))
	for i, e := range a.all {
		out[i] = e.info
	}
	return out
}

// unavailable is an artifact that cannot be given, for the reason it
// says; it is an fs.ErrNotExist.
type unavailable string

func (e unavailable) Error() string { return string(e) }

func (e unavailable) Is(target error) bool { return target == fs.ErrNotExist }
