package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// DefaultMaxReferrers caps how many referrers of one subject referee reads,
// however many pages a registry serves: more than this many is an error,
// exactly this many is accepted.
const DefaultMaxReferrers = 10000

// DefaultMaxListTime bounds one referrers listing, all its pages, when
// ListLimits.Time is zero.
const DefaultMaxListTime = 2 * time.Minute

// ListLimits bounds one referrers listing. The pages of a listing are
// bounded by the store (Options.MaxReferrerPages), which follows them.
type ListLimits struct {
	// Max bounds the entries of the listing, repeated ones counted;
	// zero means DefaultMaxReferrers.
	Max int
	// Time bounds the whole listing; zero means DefaultMaxListTime.
	Time time.Duration
}

// errTooMany stops paging once the cap is reached.
var errTooMany = errors.New("too many referrers")

// ListReferrers is ListReferrersWithin with at most max referrers (zero
// means DefaultMaxReferrers) and the default time.
func ListReferrers(ctx context.Context, s content.ReadOnlyGraphStorage, subject ocispec.Descriptor, artifactType string, max int) ([]ocispec.Descriptor, error) {
	return ListReferrersWithin(ctx, s, subject, artifactType, ListLimits{Max: max})
}

// ListReferrersWithin lists the referrers of subject (optionally only
// those of artifactType), through the OCI 1.1 referrers API or the
// referrers tag schema on registries (found out on the first listing, per
// repository, as oras-go does: see listByAPI), or the manifests that
// point at subject in an OCI layout.
// A listing beyond its bounds (more than l.Max entries, more pages than
// the store allows, longer than l.Time) is an error naming the registry
// and the bound, never a silent truncation. The entries are what the
// registry says: a caller that relies on an entry's type or annotations
// must read the manifest itself.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
func ListReferrersWithin(ctx context.Context, s content.ReadOnlyGraphStorage, subject ocispec.Descriptor, artifactType string, l ListLimits) ([]ocispec.Descriptor, error) {
	max := l.Max
	if max <= 0 {
		max = DefaultMaxReferrers
	}
	rl, ok := s.(registry.ReferrerLister)
	if !ok {
		all, err := registry.Referrers(ctx, s, subject, artifactType)
		if err != nil {
			return nil, fmt.Errorf("listing referrers of %s: %w", subject.Digest, err)
		}
		if len(all) > max {
			return nil, fmt.Errorf("%s has more than %d referrers", subject.Digest, max)
		}
		return dedupe(all), nil
	}
	limit := l.Time
	if limit <= 0 {
		limit = DefaultMaxListTime
	}
	where, pages, pageBytes := "", 0, int64(0)
	list := rl.Referrers
	if repo, ok := s.(*remote.Repository); ok {
		where, pages, pageBytes = repo.Reference.Registry, repo.ReferrerListMaxPages, repo.MaxMetadataBytes
		if st, ok := listingStateOf(repo); ok { // a repository Open made
			list = func(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
				return st.listByAPI(ctx, repo, desc, artifactType, fn)
			}
		}
	}
	lctx, cancel := WithDeadline(ctx, limit, where, "listing the referrers of "+subject.Digest.String())
	defer cancel()
	var out []ocispec.Descriptor
	err := list(lctx, subject, artifactType, func(page []ocispec.Descriptor) error {
		out = append(out, page...)
		if len(out) > max {
			return errTooMany
		}
		return nil
	})
	prefix := ""
	if where != "" {
		prefix = "registry " + where + ": "
	}
	switch {
	case err == nil:
		return dedupe(out), nil
	case errors.Is(err, errTooMany):
		if n := len(dedupe(out)); n <= max {
			return nil, fmt.Errorf("%sthe referrers listing of %s has more than %d entries (%d of them repeated)", prefix, subject.Digest, max, len(out)-n)
		}
		return nil, fmt.Errorf("%s%s has more than %d referrers", prefix, subject.Digest, max)
	case errors.Is(err, errdef.ErrTooManyPages):
		return nil, fmt.Errorf("%sthe referrers listing of %s goes on for more than %d pages", prefix, subject.Digest, pages)
	case errors.Is(err, errPageTooLarge):
		return nil, fmt.Errorf("%sa page of the referrers listing of %s is larger than the %d bytes --max-manifest-size allows", prefix, subject.Digest, pageBytes)
	case errors.Is(err, errdef.ErrSizeExceedsLimit):
		return nil, fmt.Errorf("%sthe referrers index of %s is larger than the %d bytes --max-manifest-size allows", prefix, subject.Digest, pageBytes)
	case errors.Is(err, io.ErrUnexpectedEOF) && ctx.Err() == nil && lctx.Err() == nil:
		// oras-go stops reading a page at MaxMetadataBytes, and the JSON
		// then ends early.
		return nil, fmt.Errorf("%sa page of the referrers listing of %s is cut short: larger than the %d bytes --max-manifest-size allows, or the connection ended", prefix, subject.Digest, pageBytes)
	case ctx.Err() == nil:
		if derr := DeadlineError(lctx, err); derr != err {
			return nil, derr
		}
	}
	return nil, fmt.Errorf("listing referrers of %s: %w", subject.Digest, bareTimeout(err))
}

// Listing is the referrers of one subject, as ListReferrersWithin listed
// them (DiscoverOptions.Listed).
type Listing struct {
	Subject   digest.Digest
	Referrers []ocispec.Descriptor
}

// ListAhead lists the referrers of the manifest named by dg within the
// bounds o gives them, before the manifest itself is resolved: a
// registry lists referrers by digest alone, so the listing and the
// resolution can be one round trip (hand the result to
// DiscoverOptions.Listed).
func ListAhead(ctx context.Context, s content.ReadOnlyGraphStorage, dg digest.Digest, o DiscoverOptions) (*Listing, error) {
	list, err := ListReferrersWithin(ctx, s, ocispec.Descriptor{Digest: dg}, "", ListLimits{Max: o.MaxReferrers, Time: o.MaxListTime})
	if err != nil {
		return nil, err
	}
	return &Listing{Subject: dg, Referrers: list}, nil
}

// dedupe drops repeated digests (a registry may list one twice).
func dedupe(ds []ocispec.Descriptor) []ocispec.Descriptor {
	seen := map[string]bool{}
	out := ds[:0]
	for _, d := range ds {
		if !seen[d.Digest.String()] {
			seen[d.Digest.String()] = true
			out = append(out, d)
		}
	}
	return out
}

// referrersTag is the tag of the referrers tag schema: the subject digest
// with ':' replaced by '-'.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#referrers-tag-schema
func referrersTag(subject ocispec.Descriptor) string {
	return strings.Replace(subject.Digest.String(), ":", "-", 1)
}

// ensureListed makes sure every one of descs is among subject's referrers
// (all at once: one listing per round, however many). On a registry
// with only the tag schema, the index behind the sha256-<hex> tag is a
// read-modify-write: two writers at once can each replace the other's
// update. So after a push, referee re-reads the list and, while its
// referrer is missing, adds it to the current index again, with jittered
// backoff, until it is listed (or attempts run out).
//
// Seeing the referrer listed once is not enough: a writer that read the
// index before it was added and writes after the check would drop it,
// after this writer has returned. So where a referrers tag exists, the
// referrer must stay listed while the tag's index stays unchanged for a
// quiet period longer than any referee writer's read-modify-write may
// take (maxIndexWrite, see writeTagIndex) plus a round trip, which
// outlasts such a stale write: once it returns, the referrer stays listed
// after every concurrent attach has returned (the argument is settler's).
// A referrer it cannot list, or whose listing it cannot confirm, is an
// error, never a silent loss.
func ensureListed(ctx context.Context, s Store, subject ocispec.Descriptor, descs ...ocispec.Descriptor) error {
	var st settler
	for {
		start := time.Now()
		list, err := ListReferrers(ctx, s, subject, "", 0)
		if err != nil {
			return err
		}
		var wait time.Duration
		missing := notIn(descs, list)
		if len(missing) == 0 {
			cur, err := s.Resolve(ctx, referrersTag(subject))
			if errors.Is(err, errdef.ErrNotFound) {
				return nil // the referrers API or an OCI layout: nobody rewrites a list
			}
			if err != nil {
				return fmt.Errorf("reading referrers index %s: %w", referrersTag(subject), err)
			}
			st.took(start)
			settled, w, err := st.settled(cur.Digest)
			if err != nil {
				return fmt.Errorf("referrer %s of %s is listed but not confirmed: %w", descs[0].Digest, subject.Digest, err)
			}
			if settled {
				return nil // listed, and stays so (see settler)
			}
			wait = w
		} else {
			if !st.canRepair() {
				return fmt.Errorf("referrer %s of %s is still not listed after %d attempts (concurrent writers?)", missing[0].Digest, subject.Digest, repairAttempts)
			}
			if err := addToTagIndex(ctx, s, subject, missing); err != nil {
				return err
			}
			st.took(start)
			wait = st.repaired()
		}
		if err := pause(ctx, wait); err != nil {
			return err
		}
	}
}

// notIn returns the descriptors of want whose digests list lacks.
func notIn(want, list []ocispec.Descriptor) []ocispec.Descriptor {
	var out []ocispec.Descriptor
	for _, w := range want {
		if !slices.ContainsFunc(list, func(d ocispec.Descriptor) bool { return d.Digest == w.Digest }) {
			out = append(out, w)
		}
	}
	return out
}

// listedByAPI reports whether s is a registry repository whose referrers
// listings come from the OCI 1.1 referrers API (the registry's own account
// of the manifests that name a subject, with their annotations), not from
// the tag schema's index, which whoever can push may write. It means
// something only once s has listed referrers: oras-go finds out which the
// registry has on the first listing, and until then this would decide it.
func listedByAPI(s any) bool {
	repo, ok := s.(*remote.Repository)
	// Once the capability is known, SetReferrersCapability(true) changes
	// nothing and fails only if it is the tag schema.
	return ok && repo.SetReferrersCapability(true) == nil
}
