package oci

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// This file adds referrers to and removes them from the referrers tag
// schema's index, the read-modify-write a registry without the referrers
// API keeps under the sha256-<hex> tag.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#referrers-tag-schema

// addToTagIndex adds descs to the referrers index of subject's tag-schema
// tag.
func addToTagIndex(ctx context.Context, s Store, subject ocispec.Descriptor, descs []ocispec.Descriptor) error {
	tag := referrersTag(subject)
	index := ocispec.Index{Versioned: specsVersioned(), MediaType: ocispec.MediaTypeImageIndex}
	cur, err := s.Resolve(ctx, tag)
	switch {
	case errors.Is(err, errdef.ErrNotFound):
	case err != nil:
		return fmt.Errorf("reading referrers index %s: %w", tag, err)
	default:
		data, err := fetchAll(ctx, s, cur, DefaultMaxManifestBytes)
		if err != nil {
			return fmt.Errorf("reading referrers index %s: %w", tag, err)
		}
		if err := unmarshalStrict(data, &index); err != nil {
			return fmt.Errorf("referrers index %s: %w", tag, err)
		}
	}
	add := notIn(descs, index.Manifests)
	if len(add) == 0 {
		return nil // another writer's update, read before ours was lost, brought it back
	}
	for _, d := range add {
		d.Data = nil
		index.Manifests = append(index.Manifests, d)
	}
	data, err := marshalJSON(index)
	if err != nil {
		return err
	}
	newDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, data)
	if err := pushIfAbsent(ctx, s, newDesc, data); err != nil {
		return err
	}
	if err := s.Tag(ctx, newDesc, tag); err != nil {
		return fmt.Errorf("tagging referrers index %s: %w", tag, err)
	}
	return nil
}

// readTagIndex reads subject's referrers tag-schema index and the
// descriptor the tag resolved to; found is false where there is none, or
// where the tag is not a referrers index (some registries resolve it to
// the subject itself), which referee never rewrites.
func readTagIndex(ctx context.Context, s Store, subject ocispec.Descriptor, limit int64) (index ocispec.Index, cur ocispec.Descriptor, found bool, err error) {
	tag := referrersTag(subject)
	cur, err = s.Resolve(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return index, cur, false, nil
	}
	if err != nil {
		return index, cur, false, fmt.Errorf("reading referrers index %s: %w", tag, err)
	}
	if cur.MediaType != ocispec.MediaTypeImageIndex || cur.Digest == subject.Digest {
		return index, cur, false, nil
	}
	data, err := fetchAll(ctx, s, cur, limit)
	if err != nil {
		return index, cur, false, fmt.Errorf("reading referrers index %s: %w", tag, err)
	}
	if err := unmarshalStrict(data, &index); err != nil {
		return index, cur, false, fmt.Errorf("referrers index %s: %w", tag, err)
	}
	return index, cur, true, nil
}

// removeFromTagIndex removes the entries of drop from subject's referrers
// tag-schema index and returns those it removed. The new index is pushed by
// digest, then the tag is resolved again: if another writer moved it since
// it was read, the removal starts again from the current index, so that
// the write drops nobody else's entry added meanwhile (a writer that
// slips in between that check and the tag is left to its own repair, see
// ensureListed).
func removeFromTagIndex(ctx context.Context, s Store, subject ocispec.Descriptor, drop map[digest.Digest]bool, limit int64) ([]digest.Digest, error) {
	const attempts = 8
	tag := referrersTag(subject)
	pruned := false
	for attempt := 1; ; attempt++ {
		index, cur, found, err := readTagIndex(ctx, s, subject, limit)
		if err != nil || !found {
			return nil, err
		}
		var keep []ocispec.Descriptor
		var removed []digest.Digest
		for _, e := range index.Manifests {
			if drop[e.Digest] {
				if !slices.Contains(removed, e.Digest) {
					removed = append(removed, e.Digest)
				}
				continue
			}
			keep = append(keep, e)
		}
		if len(removed) == 0 {
			return nil, nil
		}
		if keep == nil {
			keep = []ocispec.Descriptor{} // "manifests": [], as the spec requires
		}
		index.Manifests = keep
		data, err := marshalJSON(index)
		if err != nil {
			return nil, err
		}
		newDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, data)
		if err := pushIfAbsent(ctx, s, newDesc, data); err != nil {
			if !manifestUnknown(err) || pruned || attempt == attempts {
				return nil, fmt.Errorf("writing referrers index %s: %w", tag, err)
			}
			// The registry checks an index's manifests, and one listed is
			// gone (deleted without being unlisted): leave out every such
			// entry, as nothing could list them any more.
			for _, e := range keep {
				if ok, err := s.Exists(ctx, e); err == nil && !ok {
					drop[e.Digest] = true
				}
			}
			pruned = true
			continue
		}
		now, err := s.Resolve(ctx, tag)
		if err != nil && !errors.Is(err, errdef.ErrNotFound) {
			return nil, fmt.Errorf("reading referrers index %s: %w", tag, err)
		}
		if now.Digest != cur.Digest && attempt < attempts {
			continue // another writer's update: apply the removal to it instead
		}
		if err := s.Tag(ctx, newDesc, tag); err != nil {
			return nil, fmt.Errorf("tagging referrers index %s: %w", tag, err)
		}
		return removed, nil
	}
}

// manifestUnknown reports whether a registry refused an index because it
// does not have one of its manifests.
func manifestUnknown(err error) bool {
	return hasErrorCode(err, errcode.ErrorCodeManifestUnknown, errcode.ErrorCodeManifestBlobUnknown)
}

// ensureUnlisted makes sure that no entry of drop is in subject's
// referrers tag-schema index, and stays out of it: another writer that
// read the index before the removal and writes after it (an attach of
// another referrer) brings the entry back. So the index is re-read until
// it has been unchanged, without them, for a quiet period longer than such
// a read-modify-write takes, and the entries are removed again whenever
// they are back; it returns those it removed. Where there is no tag index
// (the referrers API, an OCI layout) nobody rewrites a list, and it
// returns at once.
func ensureUnlisted(ctx context.Context, s Store, subject ocispec.Descriptor, drop map[digest.Digest]bool, limit int64) ([]digest.Digest, error) {
	var (
		removed []digest.Digest
		st      settler
	)
	for {
		start := time.Now()
		index, cur, found, err := readTagIndex(ctx, s, subject, limit)
		if err != nil || !found {
			return removed, err
		}
		var back []digest.Digest
		for _, e := range index.Manifests {
			if drop[e.Digest] {
				back = append(back, e.Digest)
			}
		}
		st.took(start)
		var wait time.Duration
		if len(back) == 0 {
			var settled bool
			if settled, wait = st.settled(cur.Digest); settled {
				return removed, nil // unlisted (though other writers may keep the index busy)
			}
		} else {
			if !st.canRepair() {
				return removed, fmt.Errorf("%s is still listed in referrers index %s after %d attempts (concurrent writers?)", back[0], referrersTag(subject), repairAttempts)
			}
			r, err := removeFromTagIndex(ctx, s, subject, drop, limit)
			for _, d := range r {
				if !slices.Contains(removed, d) {
					removed = append(removed, d)
				}
			}
			if err != nil {
				return removed, err
			}
			wait = st.repaired()
		}
		if err := pause(ctx, wait); err != nil {
			return removed, err
		}
	}
}

// Bounds of settler.
const (
	repairAttempts = 12
	settleMin      = 150 * time.Millisecond
	settleMax      = time.Second
	maxSettling    = 40
)

// settler waits out the other writers of a referrers tag-schema index
// (see ensureListed and ensureUnlisted): a change holds only once the
// index behind the tag has stayed as wanted, unchanged, for a quiet period
// longer than this writer's own read-modify-write takes (within settleMin
// and settleMax), which outlasts another writer's stale write. It counts
// the repairs made meanwhile, at most repairAttempts.
type settler struct {
	repairs, settling int
	lastIndex         digest.Digest
	quietSince        time.Time
	roundTrip         time.Duration
}

// took records a round trip begun at start.
func (st *settler) took(start time.Time) { st.roundTrip = max(st.roundTrip, time.Since(start)) }

// settled records that the index (by digest) is as wanted, and reports
// whether it has been so, unchanged, for the quiet period (or has been
// looked at maxSettling times, other writers keeping it busy); if not, it
// returns how long to wait before looking again.
func (st *settler) settled(index digest.Digest) (bool, time.Duration) {
	quiet := min(max(settleMin, 4*st.roundTrip), settleMax)
	switch {
	case index != st.lastIndex:
		st.lastIndex, st.quietSince = index, time.Now()
	case time.Since(st.quietSince) >= quiet:
		return true, 0
	}
	if st.settling++; st.settling > maxSettling {
		return true, 0
	}
	return false, quiet/2 + time.Duration(rand.Int64N(int64(quiet/2)))
}

// canRepair reports whether another repair may be made.
func (st *settler) canRepair() bool { return st.repairs < repairAttempts }

// repaired records a repair of the index and returns the jittered backoff
// before looking again.
func (st *settler) repaired() time.Duration {
	st.lastIndex = ""
	wait := time.Duration(20+rand.IntN(80)) * time.Millisecond << min(st.repairs, 4)
	st.repairs++
	return wait
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
