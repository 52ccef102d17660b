package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/referee-dev/referee/attest"
)

// maxMetadataBytes bounds a buildx metadata file: with
// BUILDX_METADATA_PROVENANCE=max it holds the whole build provenance.
const maxMetadataBytes = 64 << 20

// Keys of the metadata file `docker buildx build --push --metadata-file
// FILE` writes: the digest of the pushed manifest or index, and the image
// names (the --tag values, comma-separated).
// https://docs.docker.com/reference/cli/docker/buildx/build/#metadata-file
const (
	metadataDigestKey     = "containerimage.digest"
	metadataNameKey       = "image.name"
	metadataDescriptorKey = "containerimage.descriptor"
)

// ImageFromBuildxMetadata reads a buildx metadata file and returns the image it
// records as NAME@DIGEST: the first name of image.name without its tag
// (registry and repository kept as written), pinned to containerimage.digest.
// A `docker buildx bake --metadata-file` file (one object per target) is
// read when it has exactly one target that pushed an image. Errors are one
// line and name the file.
func ImageFromBuildxMetadata(path string) (string, error) {
	data, err := readMetadataFile(path)
	if err != nil {
		return "", err
	}
	fail := func(format string, a ...any) (string, error) {
		return "", fmt.Errorf("buildx metadata file %s: "+format, append([]any{path}, a...)...)
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return fail("not a JSON object: %v", err)
	}
	if dec.More() {
		return fail("trailing data after the JSON object")
	}
	if m == nil {
		return fail("not a JSON object")
	}
	if _, ok := m[metadataDigestKey]; !ok {
		target, err := bakeTarget(m)
		if err != nil {
			return fail("%v", err)
		}
		if target != nil {
			m = target
		}
	}
	var digest, names string
	if err := stringKey(m, metadataDigestKey, &digest); err != nil {
		return fail("%v (build an image with --push)", err)
	}
	if err := stringKey(m, metadataNameKey, &names); err != nil {
		return fail("%v (build with --tag NAME and --push)", err)
	}
	if !attest.IsSHA256Digest(digest) {
		return fail("%s %q is not sha256:<64 lowercase hex digits>", metadataDigestKey, digest)
	}
	if raw, ok := m[metadataDescriptorKey]; ok {
		var d struct {
			Digest string `json:"digest"`
		}
		if err := json.Unmarshal(raw, &d); err != nil || d.Digest != digest {
			return fail("%s does not name %s %s", metadataDescriptorKey, metadataDigestKey, digest)
		}
	}
	first := ""
	for _, n := range strings.Split(names, ",") {
		if first = strings.TrimSpace(n); first != "" {
			break
		}
	}
	if first == "" {
		return fail("%s is empty (build with --tag NAME)", metadataNameKey)
	}
	repo, pinned := first, ""
	if i := strings.Index(repo, "@"); i >= 0 {
		repo, pinned = repo[:i], repo[i+1:]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i] // a tag, not a registry port
	}
	if pinned != "" && pinned != digest {
		return fail("%s %q is pinned to another digest than %s %s", metadataNameKey, first, metadataDigestKey, digest)
	}
	if _, err := name.NewRepository(repo); err != nil {
		return fail("%s %q is not an image name: %v", metadataNameKey, first, err)
	}
	return repo + "@" + digest, nil
}

// readMetadataFile reads path, bounded.
func readMetadataFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("buildx metadata file %s does not exist (write it with docker buildx build --push --metadata-file %s)", path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("buildx metadata file %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("buildx metadata file %s: %v", path, unwrapPath(err))
	}
	if len(data) > maxMetadataBytes {
		return nil, fmt.Errorf("buildx metadata file %s is larger than %d bytes", path, maxMetadataBytes)
	}
	return data, nil
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// stringKey reads the string value of key in m into v.
func stringKey(m map[string]json.RawMessage, key string, v *string) error {
	raw, ok := m[key]
	if !ok {
		return fmt.Errorf("no %s", key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s is not a string", key)
	}
	return nil
}

// bakeTarget returns the one target of a bake metadata file that records a
// pushed image, nil when m has none, and an error when it has several.
func bakeTarget(m map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	var names []string
	var found map[string]json.RawMessage
	for k, raw := range m {
		var t map[string]json.RawMessage
		if json.Unmarshal(raw, &t) != nil {
			continue
		}
		if _, ok := t[metadataDigestKey]; ok {
			names, found = append(names, k), t
		}
	}
	if len(names) > 1 {
		sort.Strings(names)
		return nil, fmt.Errorf("bake metadata of several images (targets %s): build one target", strings.Join(names, ", "))
	}
	return found, nil
}
