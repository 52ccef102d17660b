// The OCI distribution-spec conformance suite as redesigned in 2026 (a
// program; sha256 and sha512 blobs, uploads, ranges, mounts, manifests,
// indexes, referrers, tags), built by integration/oci_conformance_test.go
// with go build. A module of its own, so the suite's dependencies stay out
// of referee's go.mod.
module ociconformance2026

go 1.26

require github.com/opencontainers/distribution-spec/conformance v0.0.0-20260831232431-97274622c111
