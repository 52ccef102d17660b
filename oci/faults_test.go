package oci_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// faultRate is the fraction of requests the fault tests' proxy fails:
// half 503 with Retry-After: 0, half cut connections, before or after
// the registry saw them (testenv.FaultProxy).
const faultRate = 0.1

// registryKinds are the two kinds of registry: with the referrers API,
// and with only the tag schema (a shared sha256-<hex> index).
var registryKinds = []string{"referrers-api", "tag-schema"}

// TestConcurrentAttachThroughFaults attaches 20 links to one image at
// once, each through its own store, through a proxy failing a tenth of
// the requests. Every attach succeeds; afterwards the registry itself
// (read past the proxy) lists exactly the 20 referrers, each once — on
// the tag schema its sha256-<hex> index holds exactly 20 entries — and
// every referrer an attach reported is among them.
func TestConcurrentAttachThroughFaults(t *testing.T) {
	const writers = 20
	for i, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			be := newBackend(t, kind == "referrers-api")
			image := pushImage(t, open(t, be.host+"/app"), "concurrent faults "+kind)
			f, _ := attest.GenerateKey("")
			links := make([][]byte, writers)
			for i := range links {
				l := &attest.Link{Name: fmt.Sprintf("step%02d", i), Products: map[string]attest.HashObj{"out": {"sha256": strings.Repeat("cd", 32)}}}
				links[i] = sign(t, attest.FormDSSE, must(l.Marshal()), f)
			}
			proxy := testenv.NewFaultProxy(t, be.host, faultRate, uint64(time.Now().UnixNano())+uint64(i))
			stores := make([]oci.Store, writers)
			for i := range stores {
				stores[i] = open(t, proxy.Host+"/app")
			}

			start := make(chan struct{})
			var wg sync.WaitGroup
			got := make([]string, writers)
			errs := make([]error, writers)
			t0 := time.Now()
			for i := range writers {
				wg.Go(func() {
					<-start
					a, err := oci.Attach(ctx, stores[i], image, links[i], oci.AttachOptions{})
					got[i], errs[i] = a.Manifest.Digest.String(), err
				})
			}
			close(start)
			wg.Wait()
			took := time.Since(t0)
			for i, err := range errs {
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			sort.Strings(got)
			for i := 1; i < len(got); i++ {
				if got[i] == got[i-1] {
					t.Fatalf("two attaches reported %s", got[i])
				}
			}

			direct := open(t, be.host+"/app")
			list, err := oci.ListReferrers(ctx, direct, image, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if l := digestsOf(list); !sameStrings(l, got) {
				t.Fatalf("registry lists %d referrers %v, %d attached %v", len(l), l, len(got), got)
			}
			if kind == "tag-schema" {
				idx := tagIndex(t, direct, image)
				if l := digestsOf(idx.Manifests); len(idx.Manifests) != writers || !sameStrings(l, got) {
					t.Fatalf("the tag index holds %d entries %v, %d attached", len(idx.Manifests), l, writers)
				}
			}
			c := proxy.Counts()
			if c.Unavailable == 0 || c.CutBefore == 0 || c.CutAfter == 0 {
				t.Errorf("not every kind of fault was injected: %+v", c)
			}
			t.Logf("%d attaches in %s through %d faults in %d requests (%d answered 503, %d cut before and %d after reaching the registry, %d of them applied writes)",
				writers, took.Round(time.Millisecond), c.Faults(), c.Requests, c.Unavailable, c.CutBefore, c.CutAfter, c.CutAfterWrites)
		})
	}
}

// TestFaultyRegistry attaches a layout and links, attaches one again,
// pulls them back and copies the image with its referrers to another
// repository (what promote does), all through a proxy failing a tenth of
// the requests, on both kinds of registry: everything succeeds; the
// second attach of the same file finds the first and writes nothing; the
// pulled layout is
// the attached one; and both repositories list exactly what was
// attached.
func TestFaultyRegistry(t *testing.T) {
	for i, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			be := newBackend(t, kind == "referrers-api")
			image := pushImage(t, open(t, be.host+"/app"), "faulty "+kind)
			sc := newSupplyChain(t, attest.FormDSSE)
			proxy := testenv.NewFaultProxy(t, be.host, faultRate, uint64(time.Now().UnixNano())+uint64(i))

			s := open(t, proxy.Host+"/app")
			var attached []string
			for _, f := range [][]byte{sc.layout, sc.links["build"], sc.links["test"]} {
				a, err := oci.Attach(ctx, s, image, f, oci.AttachOptions{})
				if err != nil {
					t.Fatal(err)
				}
				attached = append(attached, a.Manifest.Digest.String())
			}
			writes := func() (n int) {
				for _, c := range writesPerDigest(be.records(false)) {
					n += c
				}
				return n
			}
			before := writes()
			if a, err := oci.Attach(ctx, s, image, sc.links["test"], oci.AttachOptions{}); err != nil || !a.Existed {
				t.Fatalf("re-attach: %+v %v", a, err)
			}
			if n := writes() - before; n != 0 {
				t.Errorf("attaching the same file again wrote %d times", n)
			}
			sort.Strings(attached)

			r := open(t, proxy.Host+"/app")
			graph, b, err := oci.DiscoverAndGather(ctx, r, image, oci.DiscoverOptions{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			res, err := oci.WriteBundle(b, dir)
			if err != nil || len(res.Files) != 3 || len(res.Skipped) != 0 {
				t.Fatalf("pull: %+v %v", res, err)
			}
			if raw, _ := os.ReadFile(filepath.Join(dir, "root.layout")); string(raw) != string(sc.layout) {
				t.Fatal("pulled layout differs")
			}

			dst := open(t, proxy.Host+"/promoted")
			if err := oci.Copy(ctx, r, dst, image, "v1", oci.CopyOptions{Graph: graph}); err != nil {
				t.Fatal(err)
			}

			for _, repo := range []string{"/app", "/promoted"} {
				list, err := oci.ListReferrers(ctx, open(t, be.host+repo), image, "", 0)
				if err != nil {
					t.Fatal(err)
				}
				if got := digestsOf(list); !sameStrings(got, attached) {
					t.Fatalf("%s lists %v, attached %v", repo, got, attached)
				}
				if kind == "tag-schema" {
					idx := tagIndex(t, open(t, be.host+repo), image)
					if got := digestsOf(idx.Manifests); !sameStrings(got, attached) {
						t.Fatalf("%s: the tag index holds %v, attached %v", repo, got, attached)
					}
				}
			}
			t.Logf("through %+v", proxy.Counts())
		})
	}
}

// TestIndexWriteFaults: on the tag schema, where every PUT of the
// referrers index fails, an attach fails with an error naming the index,
// within bounds, instead of reporting a referrer that is not listed
// (503s and connections cut before the registry saw the write); where
// every such PUT reaches the registry but its answer is lost (cut
// after), the attach finds its entry listed on its next read and
// succeeds. Either way no PUT of the index is sent again without a new
// read of the tag before it.
func TestIndexWriteFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kinds  []testenv.FaultKind
		wantOK bool
	}{
		{"unanswered, unapplied", []testenv.FaultKind{testenv.Unavailable, testenv.CutBefore}, false},
		{"applied, answer lost", []testenv.FaultKind{testenv.CutAfter}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			be := newBackend(t, false)
			image := pushImage(t, open(t, be.host+"/app"), "index write faults")
			sc := newSupplyChain(t, attest.FormDSSE)
			tag := strings.Replace(image.Digest.String(), ":", "-", 1)
			proxy := testenv.NewFaultProxy(t, be.host, 1, 11)
			// The requests on the tag, in order: each PUT must rest on a
			// read of its own, never be a resend of an earlier one.
			var mu sync.Mutex
			var onTag []string
			proxy.Only(func(r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/manifests/"+tag) {
					return false
				}
				mu.Lock()
				onTag = append(onTag, r.Method)
				mu.Unlock()
				return r.Method == http.MethodPut
			})
			proxy.Kinds(tc.kinds...)

			t0 := time.Now()
			a, err := oci.Attach(ctx, open(t, proxy.Host+"/app"), image, sc.layout, oci.AttachOptions{})
			took := time.Since(t0)
			c := proxy.Counts()
			if c.Faults() == 0 {
				t.Fatalf("no index write was failed: %+v", c)
			}
			_, found := open(t, be.host+"/app").Resolve(ctx, tag)
			if tc.wantOK {
				if err != nil {
					t.Fatal(err)
				}
				if l := digestsOf(tagIndex(t, open(t, be.host+"/app"), image).Manifests); !sameStrings(l, []string{a.Manifest.Digest.String()}) {
					t.Fatalf("attached %s, the index lists %v", a.Manifest.Digest, l)
				}
			} else {
				if err == nil {
					t.Fatalf("attach succeeded though no index write reached the registry (%+v)", c)
				}
				if !strings.Contains(err.Error(), "referrers index "+tag) || strings.Contains(err.Error(), "\n") {
					t.Errorf("not one line naming the index: %v", err)
				}
				if found == nil {
					t.Errorf("a %s tag exists though no write reached the registry", tag)
				}
			}
			mu.Lock()
			seq := strings.Join(onTag, " ")
			mu.Unlock()
			if strings.Contains(seq, "PUT PUT") || !strings.Contains(seq, "PUT") {
				t.Errorf("requests on the tag: %s; want every PUT after a read of its own", seq)
			}
			if took > 20*time.Second {
				t.Errorf("took %s", took)
			}
			t.Logf("%s: %v; %+v", took.Round(time.Millisecond), err, c)
		})
	}
}
