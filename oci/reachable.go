package oci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"oras.land/oras-go/v2/registry/remote"
)

// CheckReachable checks that the store an image reference names can be
// reached, without resolving the reference (its tag may not exist yet): a
// registry answers its API base (GET /v2/, with credentials), an OCI layout
// directory exists. Commands call it before work that would be lost if the
// store could not be written afterwards.
// See https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#determining-support.
func CheckReachable(ctx context.Context, image string, o Options) error {
	ref, err := ParseReference(image)
	if err != nil {
		return err
	}
	if ref.IsLayout() {
		if _, err := os.Stat(filepath.Join(ref.Layout, "index.json")); err != nil {
			return fmt.Errorf("%s: no OCI image layout there", ref.Name())
		}
		return nil
	}
	s, err := Open(ctx, ref, o)
	if err != nil {
		return err
	}
	repo, ok := s.(*remote.Repository)
	if !ok {
		return nil
	}
	reg, err := remote.NewRegistry(ref.Registry)
	if err != nil {
		return fmt.Errorf("registry %s: %w", ref.Registry, err)
	}
	reg.Client, reg.PlainHTTP = repo.Client, repo.PlainHTTP
	if err := reg.Ping(ctx); err != nil {
		return fmt.Errorf("registry %s does not answer: %w", ref.Registry, err)
	}
	return nil
}
