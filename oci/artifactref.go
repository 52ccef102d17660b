package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/internal/termsafe"
)

// DefaultMaxArtifactBytes bounds one artifact referrer's file, attached
// or read, when ArtifactOptions.MaxBytes or ArtifactSetOptions.MaxBytes
// is zero: large enough for scan reports, SBOMs and provenance, small
// enough to hold in memory.
const DefaultMaxArtifactBytes = 64 << 20

// ArtifactOptions controls AttachArtifact.
type ArtifactOptions struct {
	// Name is the artifact's path, as the link that records it names it;
	// empty means the path given to AttachArtifact.
	Name string
	// MaxBytes refuses larger files; zero means DefaultMaxArtifactBytes.
	MaxBytes int64
	// MediaType is the layer's media type; empty means
	// MediaTypeArtifactLayer. It is a hint for other tools only.
	MediaType string
	// SHA256, when set (lowercase hex), is the hash the file must have:
	// the one a link recorded for it (run --attach-products), so that a
	// file changed since is refused rather than attached.
	SHA256 string
	// Step, when set, is recorded in AnnotationStep: the step whose link
	// records the file as a product. A hint only.
	Step string
	// Created is recorded as the creation time; zero means now.
	Created time.Time
}

// AttachArtifact stores a file that is not a signed document as an
// artifact referrer of subject: a manifest of artifact type
// ArtifactTypeArtifact (also its config's media type; config {}) with one
// layer holding data as it is, so that the layer digest is the file's
// sha256, the hash a link records; the layer and the manifest are titled
// (AnnotationTitle) with the artifact's path, p or o.Name, which must be a
// normalised relative path (CheckArtifactPath), and the manifest has
// AnnotationKind KindArtifact. It is written as Attach writes documents
// (the referrers tag schema where the registry has no referrers API, kept
// listed under concurrent writers, retried where safe). Attaching the same
// content at the same path to the same subject again writes nothing and
// returns the existing referrer (Attached.Existed). Files over o.MaxBytes
// are refused. See docs/format.md#artifact-referrers.
func AttachArtifact(ctx context.Context, s Store, subject ocispec.Descriptor, p string, data []byte, o ArtifactOptions) (Attached, error) {
	name := p
	if o.Name != "" {
		name = o.Name
	}
	if err := CheckArtifactPath(name); err != nil {
		if o.Name == "" {
			err = fmt.Errorf("%w (name it as the link records it: --name)", err)
		}
		return Attached{}, err
	}
	limit := o.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxArtifactBytes
	}
	if int64(len(data)) > limit {
		return Attached{}, fmt.Errorf("artifact %s is %d bytes, more than the %d allowed", termsafe.Quote(name), len(data), limit)
	}
	sum := sha256.Sum256(data)
	hx := hex.EncodeToString(sum[:])
	if o.SHA256 != "" && o.SHA256 != hx {
		return Attached{}, fmt.Errorf("artifact %s hashes to sha256 %s, not to the %s recorded: it changed since", termsafe.Quote(name), hx[:12], bounded(o.SHA256))
	}
	mt := o.MediaType
	if mt == "" {
		mt = MediaTypeArtifactLayer
	}
	ann := map[string]string{
		AnnotationKind:    KindArtifact,
		AnnotationTitle:   name,
		AnnotationCreated: createdTime(o.Created),
	}
	if o.Step != "" {
		ann[AnnotationStep] = o.Step
	}
	a, err := attachReferrer(ctx, s, subject, Referrer{
		ArtifactType:   ArtifactTypeArtifact,
		LayerMediaType: mt,
		Data:           data,
		Title:          name,
		Annotations:    ann,
	}, true)
	if err != nil {
		return Attached{}, fmt.Errorf("attaching artifact %s: %w", termsafe.Quote(name), err)
	}
	return a, nil
}

// CheckArtifactPath refuses an artifact path that is not a file's path
// relative to the directory a link was recorded in, named one way only, as
// in-toto records it: empty, absolute, not normalised (path.Clean: no
// "./", "//", trailing "/"), "." or leading "..", a NUL or backslash, a
// URI, not UTF-8, or a character that does not print as itself.
func CheckArtifactPath(p string) error {
	q := termsafe.Quote(bounded(p))
	switch {
	case p == "":
		return errors.New("empty artifact path")
	case !utf8.ValidString(p):
		return fmt.Errorf("artifact path %s is not UTF-8", q)
	case strings.ContainsRune(p, 0) || strings.Contains(p, `\`):
		return fmt.Errorf("artifact path %s has a NUL or backslash", q)
	case !termsafe.Safe(p):
		return fmt.Errorf("artifact path %s has a character that does not print as itself", q)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("artifact path %s is absolute; links record paths relative to where the step ran", q)
	case uriArtifact(p):
		return fmt.Errorf("artifact path %s is a URI, not a file", q)
	case path.Clean(p) != p:
		return fmt.Errorf("artifact path %s is not normalised (want %s)", q, termsafe.Quote(path.Clean(p)))
	case p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("artifact path %s leaves the directory", q)
	}
	return nil
}

// uriArtifact reports whether p starts as a URI (scheme://), as resolvers
// record non-file artifacts.
func uriArtifact(p string) bool {
	scheme, _, ok := strings.Cut(p, "://")
	if !ok || scheme == "" {
		return false
	}
	for i, r := range scheme {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '.' || r == '-')) {
			return false
		}
	}
	return true
}

// isArtifactListing reports whether a listing entry claims an artifact
// referrer, whose blob is never read as an envelope.
func isArtifactListing(d ocispec.Descriptor) bool {
	return d.ArtifactType == ArtifactTypeArtifact || d.Annotations[AnnotationKind] == KindArtifact
}
