package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// ErrNotReferrer is why Detach refuses a digest: the image itself, a
// manifest without a subject, or a referrer of another image.
var ErrNotReferrer = errors.New("not a referrer of the image")

// DetachOptions controls Detach.
type DetachOptions struct {
	// MaxManifestBytes refuses larger referrer manifests and referrers
	// indexes; zero means the default.
	MaxManifestBytes int64
}

func (o DetachOptions) maxManifest() int64 {
	if o.MaxManifestBytes > 0 {
		return o.MaxManifestBytes
	}
	return DefaultMaxManifestBytes
}

// Detached is the result for one referrer.
type Detached struct {
	Digest digest.Digest `json:"digest"`
	// Deleted is true when the manifest was deleted from the registry (or
	// layout).
	Deleted bool `json:"deleted,omitempty"`
	// Unlisted is true when its entry was removed from the tag-schema
	// index sha256-<hex> of the image.
	Unlisted bool `json:"unlisted,omitempty"`
	// Missing is true when it was not (or no longer) a referrer of the
	// image: nothing was done.
	Missing bool `json:"missing,omitempty"`
	// Kept says why a manifest that is no longer listed is still stored:
	// the registry refuses to delete manifests (distribution's default
	// without REGISTRY_STORAGE_DELETE_ENABLED). Empty otherwise.
	Kept string `json:"kept,omitempty"`
}

// detachee is one referrer Detach acts on.
type detachee struct {
	desc   ocispec.Descriptor // as the store resolved it; only Digest where not stored
	stored bool               // the store has the manifest
	listed bool               // the tag-schema index lists it
	res    Detached
}

// Detach removes referrers (by manifest digest) from subject: it deletes
// each manifest (on registries with the referrers API, the listing follows;
// in an OCI layout, Predecessors does) and removes its entry from the
// referrers tag-schema index sha256-<hex> where there is one. Before
// anything is deleted, every manifest is read and must name subject as its
// subject: the image itself, an image or an unrelated manifest is refused
// with ErrNotReferrer, and nothing is deleted. A digest that the store does
// not have and that no index lists is Missing, so detaching twice is not an
// error. There is one result per distinct digest, in the order given; on
// error, those where something was done.
//
// The tag-schema index is a read-modify-write that other writers may race:
// Detach re-reads the tag before writing and starts again if it moved, and
// afterwards removes the entry again while a concurrent writer's stale
// update brings it back (ensureUnlisted), as Attach does the other way
// round (ensureListed) for the referrers a detach could drop. Where the
// registry refuses deletes but the tag-schema index was what listed the
// referrer, unlisting is detaching: the result says why it was Kept. In an
// OCI layout that deletes dangling content, an image held by digest only
// is tagged for the time of the deletes, so that it does not go with its
// last referrer.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#deleting-manifests
func Detach(ctx context.Context, s Store, subject ocispec.Descriptor, referrers []digest.Digest, o DetachOptions) ([]Detached, error) {
	limit := o.maxManifest()
	index, _, _, err := readTagIndex(ctx, s, subject, limit)
	if err != nil {
		return nil, fmt.Errorf("detaching from %s: %w", subject.Digest, err)
	}
	var todo []*detachee
	seen := map[digest.Digest]bool{}
	for _, d := range referrers {
		if seen[d] {
			continue
		}
		seen[d] = true
		t, err := checkReferrer(ctx, s, subject, d, limit)
		if err != nil {
			return nil, err
		}
		t.listed = slices.ContainsFunc(index.Manifests, func(e ocispec.Descriptor) bool { return e.Digest == d })
		todo = append(todo, t)
	}

	// results are all on success; on error, those where something was done.
	results := func(final bool) []Detached {
		var out []Detached
		for _, t := range todo {
			r := t.res
			r.Missing = !r.Deleted && !r.Unlisted && r.Kept == ""
			if final || !r.Missing {
				out = append(out, r)
			}
		}
		return out
	}
	drop := map[digest.Digest]bool{}
	var stored []ocispec.Descriptor
	for _, t := range todo {
		if t.stored || t.listed {
			drop[t.desc.Digest] = true
		}
		if t.stored {
			stored = append(stored, t.desc)
		}
	}
	if len(drop) == 0 {
		return results(true), nil
	}
	del, ok := s.(content.Deleter)
	if !ok && len(stored) > 0 {
		return nil, fmt.Errorf("detaching %s from %s: the store cannot delete manifests", stored[0].Digest, subject.Digest)
	}

	// Unlist first, and wait for the index to settle without them before
	// deleting: a concurrent writer's stale index that still lists a
	// deleted manifest is refused by registries that check an index's
	// manifests (distribution, go-containerregistry), failing that
	// writer's attach; while the manifest exists it is accepted, and the
	// entry removed again. Unlisted first, the registry client's own index
	// update on delete (oras-go's, without these checks) has nothing to do.
	removed, err := ensureUnlisted(ctx, s, subject, drop, limit)
	markUnlisted(todo, removed)
	if err != nil {
		return results(false), fmt.Errorf("detaching %s from %s: %w", firstOf(drop, todo), subject.Digest, err)
	}

	if err := deleteReferrers(ctx, del, s, subject, todo, stored); err != nil {
		return results(false), err
	}
	if len(stored) == 0 {
		return results(true), nil
	}
	// Once more, for registries that accept an index listing a manifest
	// they no longer have.
	removed, err = ensureUnlisted(ctx, s, subject, drop, limit)
	markUnlisted(todo, removed)
	if err != nil {
		return results(false), fmt.Errorf("detaching %s from %s: %w", firstOf(drop, todo), subject.Digest, err)
	}
	return results(true), nil
}

// deleteReferrers deletes the stored manifests of todo, keeping subject
// (see keepSubject).
func deleteReferrers(ctx context.Context, del content.Deleter, s Store, subject ocispec.Descriptor, todo []*detachee, stored []ocispec.Descriptor) error {
	if len(stored) == 0 {
		return nil
	}
	undo, err := keepSubject(ctx, s, subject, stored)
	if err != nil {
		return fmt.Errorf("detaching %s from %s: %w", stored[0].Digest, subject.Digest, err)
	}
	// One listing serves every refused delete.
	listing := sync.OnceValues(func() ([]ocispec.Descriptor, error) { return ListReferrers(ctx, s, subject, "", 0) })
	for _, t := range todo {
		if !t.stored {
			continue
		}
		err := del.Delete(ctx, t.desc)
		switch {
		case err == nil:
			t.res.Deleted = true
		case errors.Is(err, errdef.ErrNotFound):
			// deleted meanwhile by someone else
		case deleteRefused(err) && !stillListed(listing, t.desc.Digest):
			// Unlisted from the tag-schema index, which is what lists
			// referrers there; the manifest itself stays.
			t.res.Kept = "the registry refuses to delete manifests"
		default:
			if uerr := undo(); uerr != nil {
				err = fmt.Errorf("%w; %w", err, uerr)
			}
			return fmt.Errorf("detaching %s from %s: deleting its manifest: %w", t.desc.Digest, subject.Digest, err)
		}
	}
	if err := undo(); err != nil {
		return fmt.Errorf("detaching from %s: %w", subject.Digest, err)
	}
	return nil
}

// checkReferrer reads the manifest d and refuses it unless its subject is
// subject. A manifest the store does not have is returned as not stored.
func checkReferrer(ctx context.Context, s Store, subject ocispec.Descriptor, d digest.Digest, limit int64) (*detachee, error) {
	t := &detachee{desc: ocispec.Descriptor{Digest: d}, res: Detached{Digest: d}}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("detaching %q from %s: not a digest: %w", d, subject.Digest, err)
	}
	if d == subject.Digest {
		return nil, fmt.Errorf("detaching %s from %s: %w: it is the image itself", d, subject.Digest, ErrNotReferrer)
	}
	desc, err := s.Resolve(ctx, d.String())
	if errors.Is(err, errdef.ErrNotFound) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("detaching %s from %s: %w", d, subject.Digest, err)
	}
	if desc.Digest != d {
		return nil, fmt.Errorf("detaching %s from %s: the store answered with %s", d, subject.Digest, desc.Digest)
	}
	if !isManifestType(desc.MediaType) {
		return nil, fmt.Errorf("detaching %s from %s: %w: it is a blob of media type %q, not a manifest", d, subject.Digest, ErrNotReferrer, desc.MediaType)
	}
	data, err := fetchAll(ctx, s, desc, limit)
	if errors.Is(err, errdef.ErrNotFound) {
		return t, nil // deleted since it was resolved
	}
	if err != nil {
		return nil, fmt.Errorf("detaching %s from %s: reading its manifest: %w", d, subject.Digest, err)
	}
	var m struct {
		Subject *ocispec.Descriptor `json:"subject"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("detaching %s from %s: reading its manifest: %w", d, subject.Digest, err)
	}
	switch {
	case m.Subject == nil:
		return nil, fmt.Errorf("detaching %s from %s: %w: the manifest has no subject (an image or an unrelated manifest)", d, subject.Digest, ErrNotReferrer)
	case m.Subject.Digest != subject.Digest:
		return nil, fmt.Errorf("detaching %s from %s: %w: it is a referrer of %s", d, subject.Digest, ErrNotReferrer, m.Subject.Digest)
	}
	t.desc, t.stored = desc, true
	return t, nil
}

// isManifestType reports whether mediaType is one of a manifest (what a
// registry serves under /manifests/), not of a blob.
func isManifestType(mediaType string) bool {
	switch mediaType {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		"application/vnd.oci.artifact.manifest.v1+json",
		mediaTypeDockerManifest, mediaTypeDockerManifestList:
		return true
	}
	return false
}

// deleteRefused reports whether a registry refused a delete as such
// (405, or UNSUPPORTED as distribution says with deletes disabled).
func deleteRefused(err error) bool {
	var er *errcode.ErrorResponse
	return errors.As(err, &er) && er.StatusCode == http.StatusMethodNotAllowed || hasErrorCode(err, errcode.ErrorCodeUnsupported)
}

// stillListed reports whether the referrers listing lists d (or the
// referrers cannot be listed).
func stillListed(listing func() ([]ocispec.Descriptor, error), d digest.Digest) bool {
	list, err := listing()
	return err != nil || slices.ContainsFunc(list, func(e ocispec.Descriptor) bool { return e.Digest == d })
}

func markUnlisted(todo []*detachee, removed []digest.Digest) {
	for _, t := range todo {
		if slices.Contains(removed, t.desc.Digest) {
			t.res.Unlisted = true
		}
	}
}

// firstOf names a referrer of drop for an error, the first given.
func firstOf(drop map[digest.Digest]bool, todo []*detachee) digest.Digest {
	for _, t := range todo {
		if drop[t.desc.Digest] {
			return t.desc.Digest
		}
	}
	return ""
}

// keepSubject guards subject in an OCI layout whose store deletes what a
// delete leaves dangling (oras-go's content/oci with AutoGC, as Open makes
// it): there the subject of a manifest is one of its successors, so
// deleting the last referrer of an image that has no tag of its own (one
// stored by digest) would delete the image too. Only then, it tags the
// image for the time of the deletes; the returned undo removes that tag.
func keepSubject(ctx context.Context, s Store, subject ocispec.Descriptor, deleting []ocispec.Descriptor) (undo func() error, err error) {
	undo = func() error { return nil }
	st, ok := s.(*oci.Store)
	if !ok || !st.AutoGC {
		return undo, nil
	}
	preds, err := s.Predecessors(ctx, subject)
	if err != nil {
		return undo, fmt.Errorf("reading what points at %s: %w", subject.Digest, err)
	}
	if slices.ContainsFunc(preds, func(p ocispec.Descriptor) bool {
		return !slices.ContainsFunc(deleting, func(d ocispec.Descriptor) bool { return d.Digest == p.Digest })
	}) {
		return undo, nil // something else still points at it
	}
	tagged := false
	err = st.Tags(ctx, "", func(tags []string) error {
		for _, tag := range tags {
			if d, err := st.Resolve(ctx, tag); err == nil && d.Digest == subject.Digest {
				tagged = true
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return undo, fmt.Errorf("reading the tags of the layout: %w", err)
	}
	if tagged {
		return undo, nil
	}
	tag := fmt.Sprintf("referee-detaching-%012x", rand.Uint64()>>16)
	if err := st.Tag(ctx, subject, tag); err != nil {
		return undo, fmt.Errorf("keeping %s while its referrers are deleted: %w", subject.Digest, err)
	}
	return func() error {
		if err := st.Untag(ctx, tag); err != nil {
			return fmt.Errorf("removing the temporary tag %s of %s: %w", tag, subject.Digest, err)
		}
		return nil
	}, nil
}

var errStop = errors.New("stop")
