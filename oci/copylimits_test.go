package oci_test

// Copy bounds what it copies of the referrers (their configs, layers and
// the manifests a referrer index names, each by MaxBlobBytes, all of them
// together by MaxTotalBytes), never the image's own blobs; what is beyond
// a limit is left out with its own referrers and reported, or, when it is
// required, fails the copy before anything is copied. With a Graph, only
// that graph is copied and src is not listed again.

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/referee-dev/referee/oci"
)

const clLimit = 16 << 10 // MaxBlobBytes in these tests

// clReferrer pushes a referrer of subject: a manifest of artifactType with
// a config of configSize bytes (the empty {} when zero) and a layer of
// layerSize bytes, told apart by name.
func clReferrer(t *testing.T, s oci.Store, subject ocispec.Descriptor, name string, configSize, layerSize int) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, s, "application/octet-stream", clData(name, layerSize))
	if err != nil {
		t.Fatal(err)
	}
	po := oras.PackManifestOptions{Subject: &subject, Layers: []ocispec.Descriptor{layer}}
	if configSize > 0 {
		config, err := oras.PushBytes(ctx, s, "application/vnd.example.config", clData(name+" config", configSize))
		if err != nil {
			t.Fatal(err)
		}
		po.ConfigDescriptor = &config
	}
	desc, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "application/vnd.example."+strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return '-'
	}, name), po)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// clIndexReferrer pushes a referrer of subject that is an index naming one
// manifest (no subject) with a layer of layerSize bytes.
func clIndexReferrer(t *testing.T, s oci.Store, subject ocispec.Descriptor, name string, layerSize int) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, s, "application/octet-stream", clData(name, layerSize))
	if err != nil {
		t.Fatal(err)
	}
	inner, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "application/vnd.example.part", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, ArtifactType: "application/vnd.example.index", Manifests: []ocispec.Descriptor{inner}, Subject: &subject}
	idx.SchemaVersion = 2
	data, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, data)
	if err := s.Push(ctx, desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return desc
}

func clData(name string, size int) []byte {
	b := bytes.Repeat([]byte{'.'}, size)
	copy(b, name)
	return b
}

// clImage pushes an image whose layer is larger than clLimit.
func clImage(t *testing.T, s oci.Store) ocispec.Descriptor {
	return pushImage(t, s, string(clData("a large layer of the image itself", 4*clLimit)))
}

func TestCopyBoundsReferrerBlobs(t *testing.T) {
	ctx := context.Background()
	src := open(t, newStore(t, "referrers-api"))
	image := clImage(t, src)
	small := clReferrer(t, src, image, "small", 0, 1024)
	smallChild := clReferrer(t, src, small, "small child", 0, 1024)
	bigLayer := clReferrer(t, src, image, "big layer", 0, clLimit+1)
	bigLayerChild := clReferrer(t, src, bigLayer, "below the big layer", 0, 10)
	bigConfig := clReferrer(t, src, image, "big config", clLimit+1, 10)
	bigIndex := clIndexReferrer(t, src, image, "index of a big layer", clLimit+1)
	smallIndex := clIndexReferrer(t, src, image, "index of a small layer", clLimit)
	wantLeft := map[string]string{
		bigLayer.Digest.String():      "more than the 16384 allowed for a referrer's blob",
		bigLayerChild.Digest.String(): "its subject " + bigLayer.Digest.String() + " is not copied",
		bigConfig.Digest.String():     "more than the 16384 allowed for a referrer's blob",
		bigIndex.Digest.String():      "more than the 16384 allowed for a referrer's blob",
	}
	wantCopied := []string{image.Digest.String() + ">" + small.Digest.String(), small.Digest.String() + ">" + smallChild.Digest.String(), image.Digest.String() + ">" + smallIndex.Digest.String()}
	sort.Strings(wantCopied)
	for _, kind := range []string{"tag-schema", "oci-layout"} {
		t.Run(kind, func(t *testing.T) {
			// A dry run reports the same and copies nothing.
			for _, dry := range []bool{true, false} {
				dst := open(t, newStore(t, kind))
				left := map[string]string{}
				err := oci.Copy(ctx, src, dst, image, "copied", oci.CopyOptions{MaxBlobBytes: clLimit, DryRun: dry, LeftOut: func(s oci.Skipped) { left[s.Digest] = s.Reason }})
				if err != nil {
					t.Fatal(err)
				}
				if len(left) != len(wantLeft) {
					t.Errorf("dry run %v: left out %v, want %v", dry, left, wantLeft)
				}
				for d, why := range wantLeft {
					if !strings.Contains(left[d], why) {
						t.Errorf("dry run %v: %s left out for %q, want %q", dry, d, left[d], why)
					}
				}
				if ok, _ := dst.Exists(ctx, image); ok == dry {
					t.Fatalf("dry run %v: image in destination: %v", dry, ok)
				}
				if dry {
					continue
				}
				// The image's own large layer is copied; the referrers
				// within the limits are, with what their index names.
				if got := discoverPairs(t, dst, image); !sameStrings(got, wantCopied) {
					t.Errorf("destination graph\n  %v\nwant\n  %v", got, wantCopied)
				}
				if _, err := oras.Copy(ctx, dst, "copied", memory.New(), "", oras.CopyOptions{}); err != nil {
					t.Errorf("the copied image is incomplete: %v", err)
				}
				if _, err := oras.Copy(ctx, dst, smallIndex.Digest.String(), memory.New(), "", oras.CopyOptions{}); err != nil {
					t.Errorf("the copied index is incomplete: %v", err)
				}
			}
		})
	}
}

// Without MaxBlobBytes, Copy takes the walk's (--max-blob-size), and then
// the default.
func TestCopyBlobLimitFromDiscover(t *testing.T) {
	ctx := context.Background()
	src := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, src, "image")
	big := clReferrer(t, src, image, "big", 0, clLimit+1)
	for _, tc := range []struct {
		name string
		o    oci.CopyOptions
		left bool
	}{
		{"the walk's limit", oci.CopyOptions{Discover: oci.DiscoverOptions{MaxBlobBytes: clLimit}}, true},
		{"the default", oci.CopyOptions{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var left []string
			tc.o.LeftOut = func(s oci.Skipped) { left = append(left, s.Digest) }
			if err := oci.Copy(ctx, src, open(t, newStore(t, "referrers-api")), image, "", tc.o); err != nil {
				t.Fatal(err)
			}
			if (len(left) == 1 && left[0] == big.Digest.String()) != tc.left || len(left) > 1 {
				t.Errorf("left out %v", left)
			}
		})
	}
}

// All referrers together are bounded by MaxTotalBytes; required ones have
// the first claim on it, and one beyond a limit fails the copy before
// anything is copied.
func TestCopyTotalAndRequired(t *testing.T) {
	ctx := context.Background()
	src := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, src, "image")
	var refs []ocispec.Descriptor
	for _, name := range []string{"one", "two", "three"} {
		refs = append(refs, clReferrer(t, src, image, name, 0, 4096))
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Digest < refs[j].Digest })
	last := refs[2].Digest.String()
	big := clReferrer(t, src, image, "big", 0, clLimit+1)
	// Room for two of the three (manifests, layers and the {} config).
	const total = 2*4096 + 2*1024
	for _, tc := range []struct {
		name     string
		require  string
		wantErr  string
		copied   []string
		leftOut  int
		maxTotal int64
	}{
		{"first come", "", "", []string{refs[0].Digest.String(), refs[1].Digest.String()}, 2, total},
		{"required first", last, "", []string{refs[0].Digest.String(), last}, 2, total},
		{"required beyond the blob limit", big.Digest.String(), "referrer " + big.Digest.String() + " is needed but cannot be copied: blob", nil, 0, 0},
		{"required beyond the total", last, "is needed but cannot be copied: the referrers to copy would be more than 100 bytes", nil, 0, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := open(t, newStore(t, "referrers-api"))
			left := 0
			o := oci.CopyOptions{MaxBlobBytes: clLimit, MaxTotalBytes: tc.maxTotal, LeftOut: func(oci.Skipped) { left++ }}
			if tc.require != "" {
				o.Require = func(n *oci.Node) bool { return n.Digest == tc.require }
			}
			err := oci.Copy(ctx, src, dst, image, "", o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				if ok, _ := dst.Exists(ctx, image); ok || left != 0 {
					t.Fatalf("a failed copy copied the image (%v) or reported %d left out", ok, left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			list, err := oci.ListReferrers(ctx, dst, image, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range list {
				got = append(got, d.Digest.String())
			}
			sort.Strings(got)
			want := append([]string(nil), tc.copied...)
			sort.Strings(want)
			if !sameStrings(got, want) || left != tc.leftOut {
				t.Errorf("copied %v (left out %d), want %v (%d)", got, left, want, tc.leftOut)
			}
		})
	}
}

// With a Graph, Copy copies that graph and does not list src again: a
// referrer attached after the graph was read is not copied.
func TestCopyGivenGraphOnly(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t, true)
	src := open(t, b.host+"/app")
	image := pushImage(t, src, "image")
	keep := clReferrer(t, src, image, "keep", 0, 10)
	drop := clReferrer(t, src, image, "drop", 0, 10)
	clReferrer(t, src, keep, "below keep, not selected", 0, 10)
	graph, err := oci.Discover(ctx, src, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clReferrer(t, src, image, "attached after the walk", 0, 10)
	sel := graph.Select(func(n *oci.Node) bool { return n.Digest == keep.Digest.String() })
	if len(graph.Referrers) != 2 || len(sel.Referrers) != 1 || len(sel.Referrers[0].Referrers) != 0 {
		t.Fatalf("Select: %v from %v", graphDigests(sel), graphDigests(graph))
	}
	b.records(true)
	dst := open(t, newStore(t, "referrers-api"))
	if err := oci.Copy(ctx, src, dst, image, "", oci.CopyOptions{Graph: sel}); err != nil {
		t.Fatal(err)
	}
	for _, r := range b.records(false) {
		if strings.Contains(r.Path, "/referrers/") {
			t.Errorf("src listed again: %s %s", r.Method, r.Path)
		}
	}
	want := []string{image.Digest.String() + ">" + keep.Digest.String()}
	if got := discoverPairs(t, dst, image); !sameStrings(got, want) {
		t.Errorf("destination graph %v, want %v (not %s)", got, want, drop.Digest)
	}
}
