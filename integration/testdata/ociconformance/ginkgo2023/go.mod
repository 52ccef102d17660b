// The OCI distribution-spec conformance suite as of November 2023 (the
// ginkgo suite: pull, push, content discovery, content management), built by
// integration/oci_conformance_test.go with go test -c. A module of its own,
// so the suite's dependencies stay out of referee's go.mod.
module ociconformance2023

go 1.26

require github.com/opencontainers/distribution-spec/conformance v0.0.0-20231101194043-f2182352d4cc
