// Package release builds referee's own container image without docker: the
// static referee binary and a CA bundle in one layer on an empty base
// (go-containerregistry's mutate), reproducibly, so that the same binary
// always gives the same image digest. release/pipeline.sh records the
// supply chain that makes it (build, test, package) with referee itself and
// attaches it to the image; deploy/policy.yaml's "referee" policy verifies
// it at admission.
package release

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where the image keeps its files, and who it runs as.
const (
	// BinaryPath is the binary's path in the image, its entrypoint.
	BinaryPath = "/usr/bin/referee"
	// CAPath is where the CA bundle goes: Go's crypto/x509 reads it there
	// on Linux, for the registries the webhook reaches over TLS.
	CAPath = "/etc/ssl/certs/ca-certificates.crt"
	// User is the numeric non-root user the image runs as (runAsNonRoot
	// needs a number), the "nonroot" of distroless and ko's bases.
	User = "65532:65532"
)

// ImageOptions says what goes into the image.
type ImageOptions struct {
	// Binary is the referee executable: built for linux with
	// CGO_ENABLED=0, since the image has no C library.
	Binary []byte
	// CABundle is a PEM bundle of certificate authorities (e.g. the build
	// machine's /etc/ssl/certs/ca-certificates.crt); empty leaves it out.
	CABundle []byte
	// Arch is the binary's GOARCH; empty means amd64.
	Arch string
	// Created is the time the image records, and the files' modification
	// time (SOURCE_DATE_EPOCH); zero means the Unix epoch.
	Created time.Time
	// Labels are the image config's labels (org.opencontainers.image.*).
	Labels map[string]string
}

// Image returns referee's image: one OCI layer holding the binary at
// BinaryPath and the CA bundle at CAPath, the binary as entrypoint, run as
// User. The same options give the same digest.
func Image(o ImageOptions) (v1.Image, error) {
	if len(o.Binary) == 0 {
		return nil, fmt.Errorf("image: no referee binary")
	}
	arch := o.Arch
	if arch == "" {
		arch = "amd64"
	}
	created := o.Created.UTC()
	if o.Created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	layerTar, err := layerTar(o, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "referee release: " + BinaryPath + " and " + CAPath},
	})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		User:       User,
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/bin", "SSL_CERT_FILE=" + CAPath},
		Labels:     o.Labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return img, nil
}

// layerTar is the layer's uncompressed tar: directories, then the files,
// owned by root and readable by everyone, all at created.
func layerTar(o ImageOptions, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(p string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: 0o755, ModTime: created, Format: tar.FormatPAX})
	}
	file := func(p string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(data)), ModTime: created, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("usr/") },
		func() error { return dir("usr/bin/") },
		func() error { return file(BinaryPath[1:], 0o755, o.Binary) },
		func() error { return dir("tmp/") },
	}
	if len(o.CABundle) > 0 {
		steps = append(steps,
			func() error { return dir("etc/") },
			func() error { return dir("etc/ssl/") },
			func() error { return dir("etc/ssl/certs/") },
			func() error { return file(CAPath[1:], 0o644, o.CABundle) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("image layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	return buf.Bytes(), nil
}

// Push writes img to ref (a tag) with the credentials of docker's config,
// over plain HTTP only to loopback registries, and returns the digest
// reference it pushed (repo@sha256:…).
func Push(ctx context.Context, img v1.Image, ref string) (string, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("image %s: not a tag reference (%v)", ref, err)
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("pushing image %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	return tag.Context().Digest(d.String()).String(), nil
}

// ReadOptions reads the binary and CA bundle files an ImageOptions names.
func ReadOptions(binary, caBundle string) (ImageOptions, error) {
	var o ImageOptions
	var err error
	if o.Binary, err = os.ReadFile(binary); err != nil {
		return o, fmt.Errorf("referee binary: %w", err)
	}
	if caBundle != "" {
		if o.CABundle, err = os.ReadFile(caBundle); err != nil {
			return o, fmt.Errorf("CA bundle: %w", err)
		}
	}
	return o, nil
}
