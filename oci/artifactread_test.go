package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/oci"
)

// artifactSets returns the image's artifact set made both ways: from the
// graph verification walks, and from the referrers listing.
func artifactSets(t *testing.T, s oci.Store, image ocispec.Descriptor, o oci.ArtifactSetOptions) map[string]*oci.ArtifactSet {
	t.Helper()
	ctx := context.Background()
	graph, err := oci.Discover(ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listing, err := oci.NewArtifactSet(ctx, s, image, o)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*oci.ArtifactSet{"ArtifactsOf": oci.ArtifactsOf(s, graph, o), "NewArtifactSet": listing}
}

// pushShadow pushes a copy of the artifact referrer manifest real whose
// layer size is size and which claims to be newer, as anyone who can push
// can (the review's repro).
func pushShadow(t *testing.T, s oci.Store, real ocispec.Descriptor, size int64) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	m, err := oci.FetchManifest(ctx, s, real, oci.DefaultMaxManifestBytes)
	if err != nil {
		t.Fatal(err)
	}
	m.Layers[0].Size = size
	m.Annotations[oci.AnnotationCreated] = "9999-01-01T00:00:00Z"
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data)
	if err := s.Push(ctx, d, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestShadowedArtifact: the review's finding 2. Anyone who can push
// copies the real artifact referrer of report.json with a wrong layer
// size (one more, or 1 TiB) and a newer creation time; the file is still
// given, from the real referrer, on both referrer paths and by both
// constructors, and HasArtifact still says it is there.
func TestShadowedArtifact(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"referrers-api", "tag-schema"} {
		t.Run(kind, func(t *testing.T) {
			s := open(t, newStore(t, kind))
			image := pushImage(t, s, "app")
			real, err := oci.AttachArtifact(ctx, s, image, "report.json", report, oci.ArtifactOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, size := range []int64{int64(len(report)) + 1, 1 << 40} {
				pushShadow(t, s, real.Manifest, size)
				for name, set := range artifactSets(t, s, image, oci.ArtifactSetOptions{}) {
					if n := len(set.Paths()); n < 2 {
						t.Fatalf("%s: the shadow is not in the set (%d paths)", name, n)
					}
					if ok, err := set.HasArtifact(ctx, "report.json", sha256hex(report)); !ok || err != nil {
						t.Errorf("size %d, %s: HasArtifact = %v, %v", size, name, ok, err)
					}
					got, err := set.Artifact(ctx, "report.json", sha256hex(report))
					if err != nil || !bytes.Equal(got, report) {
						t.Errorf("size %d, %s: shadowed: %q, %v", size, name, got, err)
					}
					if u := set.Used(); len(u) != 1 || u[0].Digest != real.Manifest.Digest {
						t.Errorf("size %d, %s: used %v, want the real referrer %s", size, name, u, real.Manifest.Digest)
					}
				}
			}
		})
	}
}

// TestShadowedArtifactOnly: with only unreadable copies, the file is not
// available (fs.ErrNotExist, one line naming why), and HasArtifact says
// so for the 1 TiB one without fetching.
func TestShadowedArtifactOnly(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, s, "app")
	l, err := oras.PushBytes(ctx, s, oci.MediaTypeArtifactLayer, report)
	if err != nil {
		t.Fatal(err)
	}
	bad := l
	bad.Size = 1 << 40
	bad.Annotations = map[string]string{oci.AnnotationTitle: "report.json"}
	if _, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, oci.ArtifactTypeArtifact, oras.PackManifestOptions{Subject: &image, Layers: []ocispec.Descriptor{bad}}); err != nil {
		t.Fatal(err)
	}
	for name, set := range artifactSets(t, s, image, oci.ArtifactSetOptions{}) {
		if ok, err := set.HasArtifact(ctx, "report.json", sha256hex(report)); ok || err != nil {
			t.Errorf("%s: HasArtifact = %v, %v", name, ok, err)
		}
		_, err := set.Artifact(ctx, "report.json", sha256hex(report))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "more than the 67108864 allowed") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestHasArtifact: HasArtifact answers from manifests alone (no blob GET
// at the registry) and agrees with Artifact on what is there.
func TestHasArtifact(t *testing.T) {
	ctx := context.Background()
	for _, api := range []bool{true, false} {
		be := newBackend(t, api)
		s := open(t, be.host+"/app")
		image := pushImage(t, s, "app")
		if _, err := oci.AttachArtifact(ctx, s, image, "reports/report.json", report, oci.ArtifactOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, o := range []oci.ArtifactSetOptions{{}, {MaxBytes: int64(len(report)) - 1}} {
			for name, set := range artifactSets(t, s, image, o) {
				be.records(true)
				for _, c := range []struct {
					what, path, sha string
					want            bool
				}{
					{"attached", "reports/report.json", sha256hex(report), o.MaxBytes == 0},
					{"other sha256", "reports/report.json", sha256hex([]byte("x")), false},
					{"other path", "report.json", sha256hex(report), false},
					{"capitals", "reports/report.json", strings.ToUpper(sha256hex(report)), false},
					{"not a sha256", "reports/report.json", "abc", false},
				} {
					if ok, err := set.HasArtifact(ctx, c.path, c.sha); ok != c.want || err != nil {
						t.Errorf("api %v, max %d, %s, %s: HasArtifact = %v, %v; want %v", api, o.MaxBytes, name, c.what, ok, err, c.want)
					}
				}
				for _, r := range be.records(true) {
					if r.Method == http.MethodGet && strings.Contains(r.Path, "/blobs/") {
						t.Errorf("%s: HasArtifact fetched a blob: %s", name, r.Path)
					}
				}
				_, err := set.Artifact(ctx, "reports/report.json", sha256hex(report))
				if (err == nil) != (o.MaxBytes == 0) {
					t.Errorf("api %v, max %d, %s: Artifact: %v", api, o.MaxBytes, name, err)
				}
			}
		}
	}
}

// TestArtifactCountedOnce: a file read again (for another inspection) is
// counted once against MaxTotalBytes; another file past it is refused
// unread, and a read that failed does not count.
func TestArtifactCountedOnce(t *testing.T) {
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, s, "app")
	other := bytes.Repeat([]byte("y"), len(report))
	for p, data := range map[string][]byte{"report.json": report, "other.json": other} {
		if _, err := oci.AttachArtifact(ctx, s, image, p, data, oci.ArtifactOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A copy of report.json that is one byte too long, newest.
	l, err := oras.PushBytes(ctx, s, oci.MediaTypeArtifactLayer, report)
	if err != nil {
		t.Fatal(err)
	}
	l.Size++
	l.Annotations = map[string]string{oci.AnnotationTitle: "report.json"}
	if _, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, oci.ArtifactTypeArtifact, oras.PackManifestOptions{Subject: &image, Layers: []ocispec.Descriptor{l},
		ManifestAnnotations: map[string]string{oci.AnnotationCreated: "9999-01-01T00:00:00Z"}}); err != nil {
		t.Fatal(err)
	}
	o := oci.ArtifactSetOptions{MaxTotalBytes: int64(len(report)) + 1}
	for name, set := range artifactSets(t, s, image, o) {
		for i := range 3 {
			if got, err := set.Artifact(ctx, "report.json", sha256hex(report)); err != nil || !bytes.Equal(got, report) {
				t.Fatalf("%s: read %d: %q, %v", name, i, got, err)
			}
		}
		_, err := set.Artifact(ctx, "other.json", sha256hex(other))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "would be more than") {
			t.Errorf("%s: other.json: %v", name, err)
		}
	}
}
