package oci_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// TestConcurrentAttachTagSchema attaches 20 links to one image at once, each
// through its own store (so oras-go's in-process merge of referrers index
// updates does not serialise them), on a registry with only the referrers
// tag schema, where the sha256-<hex> index is a read-modify-write. Every
// link must end up listed; ensureListed's repair loop is what makes up for
// lost updates, and the test reports how often it had to act.
func TestConcurrentAttachTagSchema(t *testing.T) {
	const writers = 20
	ctx := context.Background()
	be := newBackend(t, false)
	name := be.host + "/app"
	image := pushImage(t, open(t, name), "concurrent")

	f, _ := attest.GenerateKey("")
	links := make([][]byte, writers)
	for i := range links {
		l := &attest.Link{Name: fmt.Sprintf("step%02d", i), Products: map[string]attest.HashObj{"out": {"sha256": strings.Repeat("cd", 32)}}}
		links[i] = sign(t, attest.FormDSSE, must(l.Marshal()), f)
	}
	stores := make([]oci.Store, writers)
	for i := range stores {
		stores[i] = open(t, name)
	}
	be.records(true)

	start := make(chan struct{})
	var wg sync.WaitGroup
	got := make([]string, writers)
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			<-start
			a, err := oci.Attach(ctx, stores[i], image, links[i], oci.AttachOptions{})
			got[i], errs[i] = a.Manifest.Digest.String(), err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	sort.Strings(got)

	// A fresh store sees all 20, through oras-go's listing and in the
	// index behind the tag itself, each once.
	reader := open(t, name)
	list, err := oci.ListReferrers(ctx, reader, image, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if l := digestsOf(list); !sameStrings(l, got) {
		t.Fatalf("listed %d referrers %v, attached %d %v", len(l), l, len(got), got)
	}
	idx := tagIndex(t, reader, image)
	if l := digestsOf(idx.Manifests); !sameStrings(l, got) {
		t.Fatalf("tag index holds %d entries %v, attached %d", len(l), l, len(got))
	}
	graph, err := oci.Discover(ctx, reader, image, oci.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := oci.Gather(ctx, reader, graph, 0, 0)
	if err != nil || len(b.Links) != writers || len(b.Skipped) != 0 {
		t.Fatalf("gathered %d links, skipped %v, %v", len(b.Links), b.Skipped, err)
	}

	// Figures: every index write is referee's bounded read-modify-write,
	// a PUT to the tag; beyond one per writer they are repairs of writes
	// that a concurrent writer's stale write undid.
	tag := strings.Replace(image.Digest.String(), ":", "-", 1)
	var tagPuts int
	for _, r := range be.records(false) {
		if r.Method == http.MethodPut && r.Status == http.StatusCreated && strings.HasSuffix(r.Path, "/manifests/"+tag) {
			tagPuts++
		}
	}
	t.Logf("%d writers: %d index writes to %s, %d of them repairs", writers, tagPuts, tag[:15], max(tagPuts-writers, 0))
}
