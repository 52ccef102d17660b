package oci_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// attachChain attaches a supply chain's layout and links to image and
// returns the referrer digests: layout, build, test.
func attachChain(t testing.TB, s oci.Store, image ocispec.Descriptor, sc *supplyChain) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	for _, f := range [][]byte{sc.layout, sc.links["build"], sc.links["test"]} {
		a, err := oci.Attach(context.Background(), s, image, f, oci.AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a.Manifest.Digest)
	}
	return out
}

// listed returns the sorted digests subject's referrers list, and checks
// that Discover shows the same graph with no problem node.
func listed(t testing.TB, s oci.Store, subject ocispec.Descriptor) []string {
	t.Helper()
	ctx := context.Background()
	list, err := oci.ListReferrers(ctx, s, subject, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	graph, err := oci.Discover(ctx, s, subject, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, n := range graph.Referrers {
		if n.Problem != "" {
			t.Errorf("discover: %s: %s", n.Digest, n.Problem)
		}
		nodes = append(nodes, n.Digest)
	}
	slices.Sort(nodes)
	if l := digestsOf(list); !sameStrings(l, nodes) {
		t.Fatalf("listed %v, discovered %v", l, nodes)
	}
	return nodes
}

func strs(ds ...digest.Digest) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	slices.Sort(out)
	return out
}

func TestDetach(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			name := newStore(t, kind)
			s := open(t, name)
			image := pushImage(t, s, "app "+kind)
			refs := attachChain(t, s, image, newSupplyChain(t, attest.FormDSSE))
			tagSchema := kind == "tag-schema"

			// Detach one of three, on registries through a fresh store,
			// which has not yet found out whether the registry has the
			// referrers API.
			ds := s
			if kind != "oci-layout" {
				ds = open(t, name)
			}
			got, err := oci.Detach(ctx, ds, image, []digest.Digest{refs[1]}, oci.DetachOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := oci.Detached{Digest: refs[1], Deleted: true, Unlisted: tagSchema}
			if len(got) != 1 || got[0] != want {
				t.Fatalf("detach: %+v, want %+v", got, want)
			}
			if l := listed(t, s, image); !sameStrings(l, strs(refs[0], refs[2])) {
				t.Fatalf("after detach, listed %v", l)
			}
			if _, err := s.Resolve(ctx, refs[1].String()); !errors.Is(err, errdef.ErrNotFound) {
				t.Fatalf("detached manifest still resolves: %v", err)
			}
			// A fresh store (no client-side state) sees the same.
			if kind != "oci-layout" {
				if l := listed(t, open(t, name), image); !sameStrings(l, strs(refs[0], refs[2])) {
					t.Fatalf("fresh store lists %v", l)
				}
			}
			if tagSchema {
				if l := digestsOf(tagIndex(t, s, image).Manifests); !sameStrings(l, strs(refs[0], refs[2])) {
					t.Fatalf("tag index holds %v", l)
				}
			}

			// Detaching again is nothing to do.
			got, err = oci.Detach(ctx, s, image, []digest.Digest{refs[1]}, oci.DetachOptions{})
			if err != nil || len(got) != 1 || got[0] != (oci.Detached{Digest: refs[1], Missing: true}) {
				t.Fatalf("second detach: %+v %v", got, err)
			}

			// The other two at once, one named twice, with the detached one.
			got, err = oci.Detach(ctx, s, image, []digest.Digest{refs[2], refs[1], refs[0], refs[2]}, oci.DetachOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantAll := []oci.Detached{
				{Digest: refs[2], Deleted: true, Unlisted: tagSchema},
				{Digest: refs[1], Missing: true},
				{Digest: refs[0], Deleted: true, Unlisted: tagSchema},
			}
			if !slices.Equal(got, wantAll) {
				t.Fatalf("detach all: %+v, want %+v", got, wantAll)
			}
			if l := listed(t, s, image); len(l) != 0 {
				t.Fatalf("after detaching all, listed %v", l)
			}
			if tagSchema {
				if idx := tagIndex(t, s, image); idx.Manifests == nil || len(idx.Manifests) != 0 {
					t.Fatalf("tag index %+v, want an empty list", idx)
				}
			}
			// The image is untouched.
			if _, err := s.Resolve(ctx, image.Digest.String()); err != nil {
				t.Fatalf("image after detach: %v", err)
			}
			if d, err := s.Resolve(ctx, "v1"); err != nil || d.Digest != image.Digest {
				t.Fatalf("tag v1 after detach: %v %v", d.Digest, err)
			}
		})
	}
}

func TestDetachRefuses(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			s := open(t, newStore(t, kind))
			image := pushImage(t, s, "app")
			other := pushImage(t, s, "other")
			refs := attachChain(t, s, image, newSupplyChain(t, attest.FormDSSE))
			otherRefs := attachChain(t, s, other, newSupplyChain(t, attest.FormMetablock))
			layer := oras.PushBytes
			blob, err := layer(ctx, s, ocispec.MediaTypeImageLayer, []byte("a blob"))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				refs []digest.Digest
				bad  digest.Digest
				why  string
			}{
				{"the image itself", []digest.Digest{image.Digest}, image.Digest, "it is the image itself"},
				{"another image", []digest.Digest{other.Digest}, other.Digest, "has no subject"},
				{"a referrer of another image", []digest.Digest{otherRefs[1]}, otherRefs[1], "it is a referrer of " + other.Digest.String()},
				{"after a good one", []digest.Digest{refs[0], refs[1], image.Digest}, image.Digest, "it is the image itself"},
				{"before a good one", []digest.Digest{otherRefs[0], refs[2]}, otherRefs[0], "it is a referrer of"},
			} {
				got, err := oci.Detach(ctx, s, image, c.refs, oci.DetachOptions{})
				if !errors.Is(err, oci.ErrNotReferrer) || got != nil {
					t.Fatalf("%s: %+v %v", c.name, got, err)
				}
				msg := err.Error()
				if !strings.Contains(msg, c.bad.String()) || !strings.Contains(msg, image.Digest.String()) || !strings.Contains(msg, c.why) || strings.Contains(msg, "\n") {
					t.Errorf("%s: error %q does not name %s, the image and %q on one line", c.name, msg, c.bad, c.why)
				}
			}
			// A blob is refused in a layout (which resolves blobs by digest)
			// and unknown as a manifest to a registry.
			got, err := oci.Detach(ctx, s, image, []digest.Digest{blob.Digest}, oci.DetachOptions{})
			if kind == "oci-layout" {
				if !errors.Is(err, oci.ErrNotReferrer) {
					t.Errorf("blob: %+v %v", got, err)
				}
			} else if err != nil || !got[0].Missing {
				t.Errorf("blob: %+v %v", got, err)
			}
			if _, err := oci.Detach(ctx, s, image, []digest.Digest{"sha256:nothex"}, oci.DetachOptions{}); err == nil || !strings.Contains(err.Error(), "not a digest") {
				t.Errorf("bad digest: %v", err)
			}
			if _, err := oci.Detach(ctx, s, image, refs[:1], oci.DetachOptions{MaxManifestBytes: 10}); err == nil || !strings.Contains(err.Error(), "more than the 10 allowed") {
				t.Errorf("over the manifest limit: %v", err)
			}

			// Nothing was deleted: both images keep their referrers.
			if l := listed(t, s, image); !sameStrings(l, strs(refs...)) {
				t.Fatalf("image lists %v, attached %v", l, refs)
			}
			if l := listed(t, s, other); !sameStrings(l, strs(otherRefs...)) {
				t.Fatalf("other image lists %v, attached %v", l, otherRefs)
			}
			for _, d := range []digest.Digest{image.Digest, other.Digest} {
				if _, err := s.Resolve(ctx, d.String()); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestDetachKeepsUntaggedImageInLayout detaches the last referrer of an
// image that an OCI layout holds by digest only. oras-go's layout store
// deletes what a delete leaves dangling, and a manifest's subject is one
// of its successors: without care, the image would go with its referrer.
func TestDetachKeepsUntaggedImageInLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, oci.LayoutPrefix+dir)
	image := pushImage(t, s, "by digest")
	kept := pushImage(t, s, "tagged")
	if err := s.(interface {
		Untag(context.Context, string) error
	}).Untag(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, kept, "v2"); err != nil {
		t.Fatal(err)
	}
	for _, img := range []ocispec.Descriptor{image, kept} {
		sc := newSupplyChain(t, attest.FormDSSE)
		a, err := oci.Attach(ctx, s, img, sc.links["build"], oci.AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := oci.Detach(ctx, s, img, []digest.Digest{a.Manifest.Digest}, oci.DetachOptions{})
		if err != nil || !got[0].Deleted {
			t.Fatalf("%+v %v", got, err)
		}
		if l := listed(t, s, img); len(l) != 0 {
			t.Fatalf("listed %v", l)
		}
		// The image, its config and layer are all still there, in a
		// fresh view of the directory too.
		for _, st := range []oci.Store{s, open(t, oci.LayoutPrefix+dir)} {
			d, err := st.Resolve(ctx, img.Digest.String())
			if err != nil {
				t.Fatalf("image gone with its referrer: %v", err)
			}
			m, err := oci.FetchManifest(ctx, st, d, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range append(m.Layers, m.Config) {
				if ok, err := st.Exists(ctx, b); !ok || err != nil {
					t.Fatalf("blob %s of the image gone: %v", b.Digest, err)
				}
			}
		}
	}
	// No temporary tag is left behind.
	raw, err := os.ReadFile(dir + "/index.json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "referee-detaching") {
		t.Fatalf("index.json keeps a temporary tag: %s", raw)
	}
}

// TestDetachPrunesDanglingEntries: on a tag-schema registry, a referrer
// deleted by other means stays in the sha256-<hex> index, and a registry
// that checks an index's manifests then refuses any index that lists it.
// Detaching another referrer leaves such entries out, rather than failing.
func TestDetachPrunesDanglingEntries(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, false)
	s := open(t, host+"/app")
	image := pushImage(t, s, "app")
	refs := attachChain(t, s, image, newSupplyChain(t, attest.FormDSSE))
	deleteBehindIndex := func(d digest.Digest) {
		req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/app/manifests/"+d.String(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("deleting %s behind the index's back: %v %v", d, resp, err)
		}
		resp.Body.Close()
	}

	// Named, a dangling entry is unlisted.
	deleteBehindIndex(refs[2])
	got, err := oci.Detach(ctx, s, image, []digest.Digest{refs[2]}, oci.DetachOptions{})
	if err != nil || got[0] != (oci.Detached{Digest: refs[2], Unlisted: true}) {
		t.Fatalf("%+v %v", got, err)
	}
	// Not named, it is left out with the one detached.
	deleteBehindIndex(refs[1])
	got, err = oci.Detach(ctx, s, image, []digest.Digest{refs[0]}, oci.DetachOptions{})
	if err != nil || got[0] != (oci.Detached{Digest: refs[0], Deleted: true, Unlisted: true}) {
		t.Fatalf("%+v %v", got, err)
	}
	if idx := tagIndex(t, s, image); len(idx.Manifests) != 0 {
		t.Fatalf("tag index holds %v", digestsOf(idx.Manifests))
	}
	got, err = oci.Detach(ctx, s, image, refs, oci.DetachOptions{})
	if err != nil || !got[0].Missing || !got[1].Missing || !got[2].Missing {
		t.Fatalf("%+v %v", got, err)
	}
}

// TestDetachWritesTheIndexOnce: on a tag-schema registry, oras-go's
// Repository.Delete of a manifest with a subject would itself rewrite the
// sha256-<hex> index (a read-modify-write without referee's checks).
// Detach unlists first, so oras-go finds nothing to change: the only
// index write is Detach's own (pushed by digest, then tagged).
func TestDetachWritesTheIndexOnce(t *testing.T) {
	ctx := context.Background()
	be := newBackend(t, false)
	s := open(t, be.host+"/app")
	image := pushImage(t, s, "app")
	refs := attachChain(t, s, image, newSupplyChain(t, attest.FormDSSE))
	be.records(true)
	if _, err := oci.Detach(ctx, open(t, be.host+"/app"), image, refs[:1], oci.DetachOptions{}); err != nil {
		t.Fatal(err)
	}
	tag := strings.Replace(image.Digest.String(), ":", "-", 1)
	var byDigest, byTag, deletes int
	for _, r := range be.records(false) {
		switch {
		case r.Method == http.MethodPut && r.Status == http.StatusCreated && strings.HasSuffix(r.Path, "/manifests/"+tag):
			byTag++
		case r.Method == http.MethodPut && r.Status == http.StatusCreated && r.ContentType == ocispec.MediaTypeImageIndex:
			byDigest++
		case r.Method == http.MethodDelete:
			deletes++
			if r.Status != http.StatusAccepted || !strings.HasSuffix(r.Path, "/manifests/"+refs[0].String()) {
				t.Errorf("DELETE %s: %d", r.Path, r.Status)
			}
		}
	}
	if byDigest != 1 || byTag != 1 || deletes != 1 {
		t.Fatalf("index PUTs by digest %d, to the tag %d, DELETEs %d; want one each", byDigest, byTag, deletes)
	}
}

// refusingDeletes is go-containerregistry's registry behind a handler that
// answers every DELETE as distribution does with deletes disabled.
func refusingDeletes(t testing.TB, referrersAPI bool) string {
	t.Helper()
	reg := ggcr.New(ggcr.WithReferrersSupport(referrersAPI), ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/app"
}

// TestDetachWhereDeletesAreRefused: on a tag-schema registry that refuses
// deletes, unlisting is detaching (nothing lists the referrer any more),
// and the result says the manifest was kept; with the referrers API,
// which lists whatever is stored, it is an error.
func TestDetachWhereDeletesAreRefused(t *testing.T) {
	ctx := context.Background()
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprint("referrers API ", api), func(t *testing.T) {
			s := open(t, refusingDeletes(t, api))
			image := pushImage(t, s, "app")
			refs := attachChain(t, s, image, newSupplyChain(t, attest.FormDSSE))
			got, err := oci.Detach(ctx, s, image, []digest.Digest{refs[1]}, oci.DetachOptions{})
			if api {
				if err == nil || !strings.Contains(err.Error(), refs[1].String()) || !strings.Contains(err.Error(), "405") {
					t.Fatalf("%+v %v", got, err)
				}
				if l := listed(t, s, image); !sameStrings(l, strs(refs...)) {
					t.Fatalf("listed %v", l)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0].Deleted || !got[0].Unlisted || got[0].Kept == "" || got[0].Missing {
				t.Fatalf("%+v %v", got, err)
			}
			if l := listed(t, s, image); !sameStrings(l, strs(refs[0], refs[2])) {
				t.Fatalf("listed %v", l)
			}
			// Again: still kept, not listed, not an error.
			got, err = oci.Detach(ctx, s, image, []digest.Digest{refs[1]}, oci.DetachOptions{})
			if err != nil || got[0].Kept == "" || got[0].Unlisted || got[0].Missing {
				t.Fatalf("again: %+v %v", got, err)
			}
		})
	}
}

// TestConcurrentDetachTagSchema detaches one referrer while 20 others are
// attached at once, each writer through its own store, on a registry with
// only the tag schema: the detach's read-modify-write of the sha256-<hex>
// index must lose none of the attaches, and no attach's stale write may
// bring the detached one back.
func TestConcurrentDetachTagSchema(t *testing.T) {
	const writers = 20
	ctx := context.Background()
	be := newBackend(t, false)
	name := be.host + "/app"
	image := pushImage(t, open(t, name), "concurrent detach")
	doomed := attachChain(t, open(t, name), image, newSupplyChain(t, attest.FormDSSE))[1]

	f, _ := attest.GenerateKey("")
	links := make([][]byte, writers)
	for i := range links {
		l := &attest.Link{Name: fmt.Sprintf("step%02d", i), Products: map[string]attest.HashObj{"out": {"sha256": strings.Repeat("ef", 32)}}}
		links[i] = sign(t, attest.FormDSSE, must(l.Marshal()), f)
	}
	stores := make([]oci.Store, writers+1)
	for i := range stores {
		stores[i] = open(t, name)
	}
	be.records(true)

	start := make(chan struct{})
	var wg sync.WaitGroup
	attached := make([]digest.Digest, writers)
	errs := make([]error, writers+1)
	var detached []oci.Detached
	var took time.Duration
	for i := range writers {
		wg.Go(func() {
			<-start
			a, err := oci.Attach(ctx, stores[i], image, links[i], oci.AttachOptions{})
			attached[i], errs[i] = a.Manifest.Digest, err
		})
	}
	wg.Go(func() {
		<-start
		t0 := time.Now()
		detached, errs[writers] = oci.Detach(ctx, stores[writers], image, []digest.Digest{doomed}, oci.DetachOptions{})
		took = time.Since(t0)
	})
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if len(detached) != 1 || !detached[0].Deleted || !detached[0].Unlisted {
		t.Fatalf("detach: %+v", detached)
	}

	reader := open(t, name)
	want := strs(attached...)
	// Two referrers of the chain were not detached.
	list, err := oci.ListReferrers(ctx, reader, image, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	l := digestsOf(list)
	if slices.Contains(l, doomed.String()) {
		t.Fatalf("the detached referrer is listed again")
	}
	for _, d := range want {
		if !slices.Contains(l, d) {
			t.Fatalf("attached %s is not listed (listed %d)", d, len(l))
		}
	}
	if len(l) != writers+2 {
		t.Fatalf("listed %d referrers, want %d", len(l), writers+2)
	}
	if got := digestsOf(tagIndex(t, reader, image).Manifests); !sameStrings(got, l) {
		t.Fatalf("tag index %v, listing %v", got, l)
	}
	listed(t, reader, image) // no problem nodes: nothing listed is gone

	var tagPuts int
	tag := strings.Replace(image.Digest.String(), ":", "-", 1)
	for _, r := range be.records(false) {
		if r.Method == http.MethodPut && r.Status == http.StatusCreated && strings.HasSuffix(r.Path, "/manifests/"+tag) {
			tagPuts++
		}
	}
	t.Logf("%d attaches and one detach: %d PUTs to %s; detach took %v", writers, tagPuts, tag[:15], took.Round(time.Millisecond))
}

// Detach removes a referrer from an image: the manifest is deleted, and
// on registries with only the referrers tag schema its entry in the
// sha256-<hex> index too. Detaching it again finds nothing to do.
func ExampleDetach() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ref, _ := oci.ParseReference("oci-layout:" + dir + ":v1")
	store, _ := oci.Open(ctx, ref, oci.Options{})

	layer, _ := oras.PushBytes(ctx, store, ocispec.MediaTypeImageLayer, []byte("app"))
	config, _ := oras.PushBytes(ctx, store, ocispec.MediaTypeImageConfig, []byte("{}"))
	image, _ := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{ConfigDescriptor: &config, Layers: []ocispec.Descriptor{layer}})
	_ = store.Tag(ctx, image, "v1")

	signer, _ := attest.GenerateKey("ed25519")
	link := &attest.Link{Name: "build"}
	payload, _ := link.Marshal()
	env, _ := attest.SignPayload(attest.FormDSSE, payload, signer)
	file, _ := env.Marshal()
	attached, _ := oci.Attach(ctx, store, image, file, oci.AttachOptions{})

	for range 2 {
		res, err := oci.Detach(ctx, store, image, []digest.Digest{attached.Manifest.Digest}, oci.DetachOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("deleted %v, missing %v\n", res[0].Deleted, res[0].Missing)
	}
	list, _ := oci.ListReferrers(ctx, store, image, "", 0)
	fmt.Println(len(list), "referrers")
	// Output:
	// deleted true, missing false
	// deleted false, missing true
	// 0 referrers
}
