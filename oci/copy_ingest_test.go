package oci_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// TestCopyToLayoutLeavesNoIngestDir: a copy into an OCI layout leaves the
// image layout only (oci-layout, index.json, blobs/), not the empty
// ingest/ directory oras-go stages blobs in; an ingest/ that still holds
// something (another writer's blob in flight) is left alone.
func TestCopyToLayoutLeavesNoIngestDir(t *testing.T) {
	ctx := context.Background()
	src := open(t, newStore(t, "referrers-api"))
	image := pushImage(t, src, "copied")
	sc := newSupplyChain(t, attest.FormDSSE)
	for _, f := range [][]byte{sc.layout, sc.links["build"]} {
		if _, err := oci.Attach(ctx, src, image, f, oci.AttachOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		inFlight bool
		want     []string
	}{
		{"empty ingest is removed", false, []string{"blobs", "index.json", "oci-layout"}},
		{"a blob in flight keeps it", true, []string{"blobs", "index.json", "ingest", "oci-layout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "airgap")
			if tc.inFlight {
				if err := os.MkdirAll(filepath.Join(dir, "ingest"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "ingest", "sha256_123"), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ref, err := oci.ParseReference(oci.LayoutPrefix + dir + ":v1")
			if err != nil {
				t.Fatal(err)
			}
			dst, err := oci.Open(ctx, ref, oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := oci.Copy(ctx, src, dst, image, "v1", oci.CopyOptions{DstLayout: ref.Layout}); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			sort.Strings(names)
			if !sameStrings(names, tc.want) {
				t.Errorf("layout holds %v, want %v", names, tc.want)
			}
			// The copy is whole.
			got, _, _, err := oci.OpenResolved(ctx, oci.LayoutPrefix+dir+":v1", oci.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if pairs := discoverPairs(t, got, image); len(pairs) != 2 {
				t.Errorf("copied graph %v", pairs)
			}
		})
	}
}
