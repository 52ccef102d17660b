package oci_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// trustedImage pushes an image with the chain's layout and n large links
// signed by the functionary, and returns it.
func trustedImage(t testing.TB, s oci.Store, c *trustChain, name string, n int) ocispec.Descriptor {
	t.Helper()
	image := pushImage(t, s, name)
	if _, err := oci.Attach(context.Background(), s, image, c.layout, oci.AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	big := bigPayload(t, "build", bigDoc)
	for i := range n {
		p := bytes.Replace(big, []byte(`"p/00000000"`), fmt.Appendf(nil, `"%s/%d"`, name, i), 1)
		testenv.AttachRaw(t, s, image, "build", dsseJSON(t, p, base64.StdEncoding, false, signatures(t, p, c.f)...))
	}
	return image
}

type gathered struct {
	b   *oci.Bundle
	err error
}

func gatherAsync(ctx context.Context, s oci.Store, image ocispec.Descriptor, o oci.DiscoverOptions) chan gathered {
	ch := make(chan gathered, 1)
	go func() {
		_, b, err := oci.DiscoverAndGather(ctx, s, image, o, 0)
		ch <- gathered{b, err}
	}()
	return ch
}

// A Budget shared by gathers bounds what they hold at once: the first
// may go over it (so that no two wait on each other), a second waits
// until the first is released, by Bundle.Release or the end of its
// context, and a wait ends with its context, saying what it waited for.
func TestBudgetBoundsGathersAtOnce(t *testing.T) {
	c := newTrustChain(t)
	ctx := context.Background()
	s := open(t, newStore(t, "referrers-api"))
	a := trustedImage(t, s, c, "a", 2)
	b := trustedImage(t, s, c, "b", 2)
	bud := oci.NewBudget(3 << 20)
	o := oci.DiscoverOptions{Trust: c.trust(), Budget: bud}

	actx, cancelA := context.WithCancel(ctx)
	defer cancelA()
	_, first, err := oci.DiscoverAndGather(actx, s, a, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Links) != 2 || bud.Used() < 2*bigDoc {
		t.Fatalf("first gather: %d links, %d bytes held", len(first.Links), bud.Used())
	}

	t.Run("a wait ends with its context", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, _, err := oci.DiscoverAndGather(wctx, s, b, o, 0)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for memory to hold the evidence") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("released by Bundle.Release", func(t *testing.T) {
		second := gatherAsync(ctx, s, b, o)
		select {
		case g := <-second:
			t.Fatalf("the second gather did not wait: %+v", g)
		case <-time.After(300 * time.Millisecond):
		}
		first.Release()
		g := <-second
		if g.err != nil || len(g.b.Links) != 2 {
			t.Fatalf("second gather: %+v", g)
		}
		g.b.Release()
		g.b.Release()
		if bud.Used() != 0 {
			t.Errorf("%d bytes still held", bud.Used())
		}
	})
	t.Run("released when the context ends", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		_, g, err := oci.DiscoverAndGather(cctx, s, a, o, 0)
		if err != nil || bud.Used() == 0 {
			t.Fatalf("%v, %d bytes held", err, bud.Used())
		}
		_ = g
		cancel()
		deadline := time.Now().Add(5 * time.Second)
		for bud.Used() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if bud.Used() != 0 {
			t.Errorf("%d bytes still held after the context ended", bud.Used())
		}
	})
}

// Images gathered at once, each holding more than the whole budget, all
// get through when each is released as its verification ends; many large
// referrers fetched ahead from the listing, with few places at the gate,
// do not stall either.
func TestBudgetNeverDeadlocks(t *testing.T) {
	c := newTrustChain(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t, newStore(t, "referrers-api"))
	var images []ocispec.Descriptor
	for i := range 4 {
		images = append(images, trustedImage(t, s, c, fmt.Sprintf("img%d", i), 2))
	}
	junk := pushImage(t, s, "junk")
	big := bigPayload(t, "build", maxPooledDocForTest+4096)
	for i := range 30 {
		p := bytes.Replace(big, []byte(`"p/00000000"`), fmt.Appendf(nil, `"junk/%d"`, i), 1)
		testenv.AttachRaw(t, s, junk, "build", dsseJSON(t, p, base64.StdEncoding, false, signatures(t, p, c.mallory)...))
	}
	images = append(images, junk, junk)
	bud := oci.NewBudget(3 << 20)
	o := oci.DiscoverOptions{Trust: c.trust(), Budget: bud, Parallel: 4}
	var wg sync.WaitGroup
	errs := make([]error, len(images))
	for i, image := range images {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, b, err := oci.DiscoverAndGather(ctx, s, image, o, 0)
			if err == nil {
				b.Release()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("image %d: %v", i, err)
		}
	}
	if bud.Used() != 0 {
		t.Errorf("%d bytes still held", bud.Used())
	}
}

// maxPooledDocForTest is the size above which untrusted documents are
// screened unread (1 MiB).
const maxPooledDocForTest = 1 << 20
