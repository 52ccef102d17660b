package oci

import "github.com/referee-dev/referee/internal/lazyre"

// evidenceTag matches the tags that hold evidence rather than images: the
// referrers tag schema's sha256-<hex> (see referrersTag) and cosign's
// sha256-<hex>.sig, .att and .sbom.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#referrers-tag-schema
var evidenceTag = lazyre.New(`^sha256-[0-9a-f]{64}(\.[a-z]+)?$`)

// IsEvidenceTag reports whether a tag is one that registries without the
// referrers API list beside images (`crane ls`) but that names an index
// of referrers, not an image.
func IsEvidenceTag(tag string) bool { return evidenceTag().MatchString(tag) }
