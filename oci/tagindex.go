package oci

import (
	"bytes"
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
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// This file adds referrers to and removes them from the referrers tag
// schema's index, the read-modify-write a registry without the referrers
// API keeps under the sha256-<hex> tag.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#referrers-tag-schema

// addToTagIndex adds descs to the referrers index of subject's tag-schema
// tag: a read-modify-write whose write is sent within maxIndexWrite of
// the read it rests on (writeTagIndex), or done again from a new read.
// Where descs are all listed already (another writer, or a write of ours
// whose answer was lost, listed them), it writes nothing.
func addToTagIndex(ctx context.Context, s Store, subject ocispec.Descriptor, descs []ocispec.Descriptor) error {
	tag := referrersTag(subject)
	var err error
	for attempt := range indexWriteAttempts {
		if attempt > 0 {
			if perr := pause(ctx, pushBackoff(attempt)); perr != nil {
				return perr
			}
		}
		index := ocispec.Index{Versioned: specsVersioned(), MediaType: ocispec.MediaTypeImageIndex}
		cur, rerr := s.Resolve(ctx, tag)
		readAt := time.Now()
		switch {
		case errors.Is(rerr, errdef.ErrNotFound):
		case rerr != nil:
			return fmt.Errorf("reading referrers index %s: %w", tag, bareTimeout(rerr))
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
			return nil // listed: by another writer's update, or by ours whose answer was lost
		}
		for _, d := range add {
			d.Data = nil
			index.Manifests = append(index.Manifests, d)
		}
		if err = writeTagIndex(ctx, s, subject, index, readAt); !retryIndexWrite(ctx, err) {
			return err
		}
	}
	return err // it names the index
}

// writeTagIndex writes index as subject's referrers tag-schema index,
// the write of a read-modify-write whose read was answered at readAt. The
// PUT of the tag is never sent again by the transport (retryTransport),
// and it is cancelled unless answered within maxIndexWrite of readAt: a
// write that could not be made in time (because of retries, or a slow
// registry) fails with errIndexWriteLate or the cut's error, and the
// caller reads the index again instead of sending stale content later.
// So every write referee makes of an index lands within maxIndexWrite
// (plus the registry's own handling) of the read it rests on, which the
// quiet period of settler outlasts. In an OCI layout (no tag schema is
// used there) it pushes and tags index as it is.
func writeTagIndex(ctx context.Context, s Store, subject ocispec.Descriptor, index ocispec.Index, readAt time.Time) error {
	tag := referrersTag(subject)
	data, err := marshalJSON(index)
	if err != nil {
		return err
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, data)
	rp, ok := s.(registry.ReferencePusher)
	if !ok {
		if err := pushIfAbsent(ctx, s, desc, data); err != nil {
			return fmt.Errorf("writing referrers index %s: %w", tag, err)
		}
		if err := s.Tag(ctx, desc, tag); err != nil {
			return fmt.Errorf("tagging referrers index %s: %w", tag, err)
		}
		return nil
	}
	deadline := readAt.Add(maxIndexWrite)
	if time.Until(deadline) < maxIndexWrite/4 {
		return errIndexWriteLate
	}
	wctx, cancel := context.WithDeadlineCause(ctx, deadline, errIndexWriteLate)
	defer cancel()
	err = rp.PushReference(wctx, desc, bytes.NewReader(data), tag)
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		err = errIndexWriteLate
	}
	if err != nil {
		return fmt.Errorf("writing referrers index %s: %w", tag, bareTimeout(err))
	}
	return nil
}

// errIndexWriteLate is a write of a referrers index that could not be
// answered within maxIndexWrite of its read.
var errIndexWriteLate = fmt.Errorf("not answered within %s of reading it", maxIndexWrite)

// retryIndexWrite reports whether a write of a referrers index that
// ended with err is done again from a new read: it was late, cut, or
// answered 408, 429 or 5xx, and may or may not have landed.
func retryIndexWrite(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && (errors.Is(err, errIndexWriteLate) || restartable(err))
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
		return index, cur, false, fmt.Errorf("reading referrers index %s: %w", tag, bareTimeout(err))
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
// the write drops nobody else's entry added meanwhile; otherwise the tag
// is written with writeTagIndex, within maxIndexWrite of that check (a
// writer that slips in between is left to its own repair, see
// ensureListed). A write that was late or cut is done again from a new
// read; an entry then found gone counts as removed (the write whose
// answer was lost had landed).
func removeFromTagIndex(ctx context.Context, s Store, subject ocispec.Descriptor, drop map[digest.Digest]bool, limit int64) ([]digest.Digest, error) {
	const attempts = 8
	tag := referrersTag(subject)
	pruned := false
	var tried []digest.Digest // removed by a write whose answer was lost
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
			return tried, nil
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
		readAt := time.Now()
		if err != nil && !errors.Is(err, errdef.ErrNotFound) {
			return nil, fmt.Errorf("reading referrers index %s: %w", tag, bareTimeout(err))
		}
		if now.Digest != cur.Digest && attempt < attempts {
			continue // another writer's update: apply the removal to it instead
		}
		err = writeTagIndex(ctx, s, subject, index, readAt)
		if err == nil {
			for _, d := range tried {
				if !slices.Contains(removed, d) {
					removed = append(removed, d)
				}
			}
			return removed, nil
		}
		if !retryIndexWrite(ctx, err) || attempt == attempts {
			return nil, err
		}
		for _, d := range removed {
			if !slices.Contains(tried, d) {
				tried = append(tried, d)
			}
		}
		if err := pause(ctx, pushBackoff(attempt)); err != nil {
			return nil, err
		}
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
			settled, w, err := st.settled(cur.Digest)
			if err != nil {
				return removed, fmt.Errorf("unlisting from referrers index %s: %w", referrersTag(subject), err)
			}
			if settled {
				return removed, nil // unlisted, and stays so
			}
			wait = w
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

// Bounds of the writes of a referrers tag-schema index and of settler.
const (
	// maxIndexWrite bounds the span of one read-modify-write of an index
	// by referee: its PUT must be answered within maxIndexWrite of the
	// read it rests on (writeTagIndex).
	maxIndexWrite = 500 * time.Millisecond
	// indexWriteAttempts bounds the reads-and-writes of one update.
	indexWriteAttempts = 5
	repairAttempts     = 12
	// settleMargin is added to the quiet period beyond maxIndexWrite and
	// the slowest round trip.
	settleMargin = 100 * time.Millisecond
	settleMax    = 10 * time.Second
	// maxSettling bounds the looks at an index that other writers keep
	// changing; then the change is reported as not confirmed.
	maxSettling = 200
)

// settler waits out the other writers of a referrers tag-schema index
// (see ensureListed and ensureUnlisted): a change (an entry X added, or
// removed) holds only once the index behind the tag has been seen as
// wanted and unchanged (the same digest) over a quiet period Q longer than
// maxIndexWrite plus the slowest round trip seen, from the end of the
// first look that saw it to the start of the last. It counts the repairs
// made meanwhile, at most repairAttempts.
//
// Why this is enough, for an entry X that ensureListed added: a write
// that loses X is a write whose read was served while the index lacked X,
// i.e. before the first look of the quiet run was served (the index had X
// from then on, unchanged). Every referee writer's PUT lands within
// maxIndexWrite of its read's answer (writeTagIndex cancels it otherwise,
// and the transport never sends it again; oras-go's own indexing is not
// used, see unindexed), plus a one-way trip and the registry's handling,
// less than a round trip. So such a stale write lands less than
// maxIndexWrite + round trip after the first look of the quiet run: inside
// the run, where it would have changed the digest the last look saw, or
// before its first look, which then already showed its repair. Reads made
// after that first look contain X. Hence, once settled, no write based on
// a read without X can come any more, by any referee writer, and X stays
// listed until someone removes it. (Assumptions: the other writers are
// referee with the same bounds and see round trips like ours; the index
// never returns to the same bytes after a write lacking X without X's own
// repair, which restarts the run — only an attach and a detach of one
// referrer racing could do that.) The same holds, mirrored, for an entry
// removed by ensureUnlisted. An index that others keep changing for
// maxSettling looks is an error: the change is not confirmed, never
// silently assumed.
type settler struct {
	repairs, settling int
	lastIndex         digest.Digest
	quietSince        time.Time // end of the first look that saw lastIndex
	lookStart         time.Time // start of the latest look
	roundTrip         time.Duration
}

// took records a look (a round trip) begun at start.
func (st *settler) took(start time.Time) {
	st.lookStart = start
	st.roundTrip = max(st.roundTrip, time.Since(start))
}

// quiet is the quiet period Q.
func (st *settler) quiet() time.Duration {
	return min(maxIndexWrite+st.roundTrip+settleMargin, settleMax)
}

// settled records that the index (by digest) is as wanted in the look
// recorded last (took), and reports whether it has been so, unchanged,
// for the quiet period; if not, it returns how long to wait before
// looking again. Another writer keeping the index changing for
// maxSettling looks is an error.
func (st *settler) settled(index digest.Digest) (bool, time.Duration, error) {
	quiet := st.quiet()
	switch {
	case index != st.lastIndex:
		st.lastIndex, st.quietSince = index, time.Now()
	case st.lookStart.Sub(st.quietSince) >= quiet:
		return true, 0, nil
	}
	if st.settling++; st.settling > maxSettling {
		return false, 0, fmt.Errorf("the index was still being rewritten by other writers after %d looks", maxSettling)
	}
	return false, quiet/4 + time.Duration(rand.Int64N(int64(quiet/4))), nil
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
