package oci

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/termsafe"
)

// Artifact returns the file attached at path p whose SHA-256 is sha256hex
// (lowercase hex): the blob sha256:<sha256hex> of an artifact referrer of
// the image titled p, fetched and hashed here whatever the registry says.
// Every artifact referrer that holds it is a candidate, tried in turn
// until one is readable: a copy that anyone who can push made unreadable
// (a wrong size, another subject), however new it claims to be, does not
// hide the file. The error wraps fs.ErrNotExist when no candidate can give
// the file: none holds p with that digest, the registry's bytes do not
// hash to it, the file is over ArtifactSetOptions.MaxBytes or past
// MaxTotalBytes (refused unread; a blob read again is counted once); any
// other error is the store's (unreachable, failing), when no candidate
// answered otherwise.
func (a *ArtifactSet) Artifact(ctx context.Context, p, sha256hex string) ([]byte, error) {
	cands, err := a.candidates(p, sha256hex)
	if err != nil {
		return nil, err
	}
	var last, failed error
	for _, e := range cands {
		err := a.confirmEntry(ctx, e)
		if err == nil {
			e.mu.Lock()
			l := e.layer
			e.mu.Unlock()
			var data []byte
			if data, err = a.read(ctx, e, l); err == nil {
				return data, nil
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if isUnavailable(err) {
			last = err
		} else {
			failed = err
		}
	}
	return nil, cmp.Or(last, failed)
}

// HasArtifact reports whether the file at path p whose SHA-256 is
// sha256hex is attached: an artifact referrer of the image holds it, its
// manifest read (naming the image, with one layer of that digest titled
// p) and its size within ArtifactSetOptions.MaxBytes. No blob is fetched:
// the bytes are checked when Artifact reads them. It implements the
// engine's verify.ArtifactChecker. An error is the store's, when every
// candidate's manifest failed to be read.
func (a *ArtifactSet) HasArtifact(ctx context.Context, p, sha256hex string) (bool, error) {
	cands, err := a.candidates(p, sha256hex)
	if err != nil {
		return false, nil
	}
	var failed error
	definite := false
	for _, e := range cands {
		if err := a.confirmEntry(ctx, e); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if isUnavailable(err) {
				definite = true
			} else {
				failed = err
			}
			continue
		}
		e.mu.Lock()
		size := e.layer.Size
		e.mu.Unlock()
		if size >= 0 && size <= a.o.MaxBytes {
			// Known to be there is used, as read is: an inspection's
			// materials are what is available, and promote copies them.
			a.markUsed(e)
			return true, nil
		}
		definite = true
	}
	if definite {
		return false, nil
	}
	return false, failed
}

// candidates returns the entries that may hold p with sha256hex, or why
// none does (an unavailable).
func (a *ArtifactSet) candidates(p, sha256hex string) ([]*artifactEntry, error) {
	if !attest.IsSHA256Hex(sha256hex) {
		return nil, unavailable(fmt.Sprintf("artifact %s: %s is not a SHA-256 in lowercase hex", termsafe.Quote(bounded(p)), termsafe.Quote(bounded(sha256hex))))
	}
	cands := a.byKey[artifactKey{p, digest.NewDigestFromEncoded(digest.SHA256, sha256hex)}]
	if len(cands) == 0 {
		return nil, unavailable(fmt.Sprintf("no artifact referrer of %s holds %s with sha256 %s", a.subject.Digest, termsafe.Quote(bounded(p)), sha256hex[:12]))
	}
	return cands, nil
}

func isUnavailable(err error) bool {
	var u unavailable
	return errors.As(err, &u)
}

// read fetches e's blob within the bounds and checks its size and
// digest itself. A blob is counted against MaxTotalBytes while it is
// read, and once read whole it stays counted, once: reading it again
// (for another check) costs nothing more; a read that fails gives its
// share back.
func (a *ArtifactSet) read(ctx context.Context, e *artifactEntry, l ocispec.Descriptor) (data []byte, err error) {
	what := fmt.Sprintf("artifact %s (referrer %s)", termsafe.Quote(e.info.Path), e.manifest.Digest)
	if l.Size > a.o.MaxBytes {
		return nil, unavailable(fmt.Sprintf("%s is %d bytes, more than the %d allowed", what, l.Size, a.o.MaxBytes))
	}
	a.mu.Lock()
	counted := a.counted[l.Digest]
	if !counted {
		if a.spent+l.Size > a.o.MaxTotalBytes {
			a.mu.Unlock()
			return nil, unavailable(fmt.Sprintf("%s not read: the artifacts read for %s would be more than %d bytes", what, a.subject.Digest, a.o.MaxTotalBytes))
		}
		a.spent += l.Size
	}
	a.mu.Unlock()
	if !counted {
		defer func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if err != nil || a.counted[l.Digest] {
				a.spent -= l.Size // failed, or read meanwhile by another call
				return
			}
			a.counted[l.Digest] = true
		}()
	}
	data, err = a.fetch(ctx, what, l)
	if err != nil {
		return nil, err
	}
	a.markUsed(e)
	return data, nil
}

// markUsed records that verification used e's artifact (Used).
func (a *ArtifactSet) markUsed(e *artifactEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.used[e.manifest.Digest]; !ok {
		a.used[e.manifest.Digest] = e.manifest
	}
}

// fetch reads blob l, of the artifact what, and checks its size and
// digest.
func (a *ArtifactSet) fetch(ctx context.Context, what string, l ocispec.Descriptor) ([]byte, error) {
	rc, err := a.s.Fetch(ctx, l)
	if err != nil && ctx.Err() == nil && strings.HasSuffix(err.Error(), "mismatch Content-Length") {
		// oras-go's words (untyped) for a response whose length is not
		// the descriptor's size.
		return nil, unavailable(fmt.Sprintf("%s: the registry answered for %s with another size than the %d its manifest says", what, l.Digest, l.Size))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: fetching %s: %w", what, l.Digest, bareTimeout(err))
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, l.Size+1))
	if err != nil && ctx.Err() == nil && !isContentMismatch(err) {
		return nil, fmt.Errorf("%s: fetching %s: %w", what, l.Digest, bareTimeout(err))
	} else if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	sum := sha256.Sum256(data)
	switch got := hex.EncodeToString(sum[:]); {
	case err != nil:
		return nil, unavailable(fmt.Sprintf("%s: the registry's bytes are not the blob %s: %v", what, l.Digest, err))
	case int64(len(data)) != l.Size:
		return nil, unavailable(fmt.Sprintf("%s: the registry sent %s bytes for %s, not the %d its manifest says", what, sizeText(len(data), l.Size), l.Digest, l.Size))
	case got != l.Digest.Encoded():
		return nil, unavailable(fmt.Sprintf("%s: the registry's bytes for %s hash to sha256 %s", what, l.Digest, got[:12]))
	}
	return data, nil
}

func sizeText(n int, size int64) string {
	if int64(n) > size {
		return "more"
	}
	return fmt.Sprint(n)
}

// isContentMismatch reports whether a fetch failed because the store's
// bytes are not the blob asked for (oras-go checks what it can).
func isContentMismatch(err error) bool {
	return err != nil && (errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData))
}

// Used returns the artifact referrer manifests whose blobs Artifact read,
// by digest: promote copies them with the evidence.
func (a *ArtifactSet) Used() []ocispec.Descriptor {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ocispec.Descriptor, 0, len(a.used))
	for _, d := range a.used {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out
}
