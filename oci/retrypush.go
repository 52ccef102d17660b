package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// pushAttempts bounds how often one blob or manifest push is begun.
const pushAttempts = 5

// pushRestarting pushes desc, whose content open returns (once per
// attempt; closed after it if it is an io.Closer), and begins the push again when it fails on the way (see
// restartable): content is addressed by its digest, so pushing it twice
// is safe. Before each attempt after the first (and before the first too
// when check is set) it asks whether the store has desc already, as it
// does when a cut request had reached the registry. A blob is pushed from
// a new upload session each time; a manifest is pushed without oras-go's
// own update of the referrers tag-schema index (see unindexed), which
// ensureListed makes instead.
func pushRestarting(ctx context.Context, s Store, desc ocispec.Descriptor, open func() (io.Reader, error), check bool) error {
	target := s
	if isManifestType(desc.MediaType) {
		target = unindexed(s)
	}
	var err error
	for attempt := range pushAttempts {
		if attempt > 0 {
			if perr := pause(ctx, pushBackoff(attempt)); perr != nil {
				return perr
			}
		}
		if check || attempt > 0 {
			ok, xerr := s.Exists(ctx, desc)
			if xerr != nil {
				return fmt.Errorf("checking %s: %w", desc.Digest, bareTimeout(xerr))
			}
			if ok {
				return nil
			}
		}
		var r io.Reader
		if r, err = open(); err != nil {
			return fmt.Errorf("reading %s: %w", desc.Digest, err)
		}
		err = target.Push(ctx, desc, r)
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
		if err == nil || errors.Is(err, errdef.ErrAlreadyExists) {
			return nil
		}
		if !restartable(err) || ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("pushing %s: %w", desc.Digest, bareTimeout(err))
}

// pushBackoff is the jittered wait before the attempt-th push of one
// descriptor (or write of an index), at most retryMaxWait.
func pushBackoff(attempt int) time.Duration { return min(backoff(attempt, nil), retryMaxWait) }

// unindexed returns the store to push manifests to without oras-go's
// client-side indexing: on a registry without the referrers API, oras-go
// would follow the push of a manifest with a subject with its own
// read-modify-write of the sha256-<hex> index, whose write nobody bounds
// (see writeTagIndex). The returned repository shares s's client and
// settings and is told the registry has the referrers API, so it only
// PUTs the manifest; referee's callers then list the referrer with
// ensureListed. Other stores (an OCI layout) are returned as they are.
func unindexed(s Store) Store {
	repo, ok := s.(*remote.Repository)
	if !ok {
		return s
	}
	p := &remote.Repository{
		Client:             repo.Client,
		Reference:          repo.Reference,
		PlainHTTP:          repo.PlainHTTP,
		ManifestMediaTypes: repo.ManifestMediaTypes,
		MaxMetadataBytes:   repo.MaxMetadataBytes,
		// Only pushed to; bounded as the repository is, should it list.
		ReferrerListMaxPages: repo.ReferrerListMaxPages,
		SkipReferrersGC:      true,
		HandleWarning:        repo.HandleWarning,
	}
	_ = p.SetReferrersCapability(true) // a new repository: cannot fail
	return p
}

// restartingTarget is the destination of a copy: its pushes are
// pushRestarting's, reading the content again from src for a new
// attempt, and push manifests unindexed (the copy lists the referrers
// with ensureListed afterwards).
type restartingTarget struct {
	Store
	src content.Fetcher
}

// Push pushes desc from r, and again from src if the first push fails
// on the way.
func (t restartingTarget) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	first := true
	return pushRestarting(ctx, t.Store, desc, func() (io.Reader, error) {
		if first {
			first = false
			return io.NopCloser(r), nil // oras-go closes r
		}
		return t.src.Fetch(ctx, desc)
	}, false)
}
