package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// floor is a lower bound on `referee verify IMAGE` for one chain, of parts
// that no verifier of the same evidence can skip on this machine: a Go
// process starting (measured apart, as bench/gostart, which does nothing),
// one round trip for the referrers listing plus the time the registry
// takes to produce and send it, and one Ed25519 signature check per
// document (the layout and a link per step, each step's threshold being 1)
// with crypto/ed25519 on every core (batch verification could go lower,
// and would accept what single verification refuses), and decoding the
// listing once, warm, with the fastest decoder of it that keeps
// encoding/json's semantics (json/v1 of go-json-experiment, which referee
// uses). It leaves out everything else: the process's own start, reading
// the envelopes and the links, the layout, and evaluating the rules.
type floor struct {
	listing time.Duration // the registry's answer to a GET of the listing, without the delay (median)
	decode  time.Duration // decoding that answer (median)
	sigs    time.Duration // docs Ed25519 checks spread over GOMAXPROCS goroutines (median)
}

// measureFloor measures floor's parts for the chain whose image is digest
// in repo, with docs signed documents, runs times each.
func measureFloor(ctx context.Context, reg *slowRegistry, repo, digest string, docs, runs int) (floor, error) {
	url := "http://" + reg.direct + "/v2/" + repo + "/referrers/" + digest
	var listing, decode, sigs []sample // wall: the time taken
	for range runs {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return floor{}, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return floor{}, fmt.Errorf("listing %s: %w", url, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return floor{}, fmt.Errorf("listing %s: %s %v", url, resp.Status, err)
		}
		listing = append(listing, sample{wall: time.Since(start)})
		start = time.Now()
		var index ocispec.Index
		if err := jsonv1.Unmarshal(body, &index); err != nil || len(index.Manifests) != docs {
			return floor{}, fmt.Errorf("listing %s: %d referrers, want %d (%v)", url, len(index.Manifests), docs, err)
		}
		decode = append(decode, sample{wall: time.Since(start)})
	}
	seed := sha256.Sum256([]byte("referee bench floor"))
	key := ed25519.NewKeyFromSeed(seed[:])
	pub := key.Public().(ed25519.PublicKey)
	msg := make([]byte, 1<<10) // a link's payload, about
	sig := ed25519.Sign(key, msg)
	for range runs {
		start := time.Now()
		var wg sync.WaitGroup
		procs := runtime.GOMAXPROCS(0)
		for w := range procs {
			wg.Go(func() {
				for i := w; i < docs; i += procs {
					if !ed25519.Verify(pub, msg, sig) {
						panic("bench: the floor's signature does not verify")
					}
				}
			})
		}
		wg.Wait()
		sigs = append(sigs, sample{wall: time.Since(start)})
	}
	wall := func(s sample) time.Duration { return s.wall }
	return floor{listing: median(listing, wall), decode: median(decode, wall), sigs: median(sigs, wall)}, nil
}

// total is the floor with a process start and one round trip.
func (f floor) total(start, rtt time.Duration) time.Duration {
	return start + rtt + f.listing + f.decode + f.sigs
}
