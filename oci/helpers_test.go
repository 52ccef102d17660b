package oci_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// newRegistry, open and pushImage are shared with the verify tests.
var (
	newRegistry = testenv.Registry
	open        = testenv.Open
	pushImage   = testenv.PushImage
)

// storeKinds are the kinds of store every oci test runs on: a registry
// with the referrers API, one with only the tag schema, an OCI layout.
var storeKinds = []string{"referrers-api", "tag-schema", "oci-layout"}

// newStore returns the name of a fresh store of kind.
func newStore(t testing.TB, kind string) string {
	switch kind {
	case "referrers-api":
		return newRegistry(t, true) + "/app"
	case "tag-schema":
		return newRegistry(t, false) + "/app"
	}
	return oci.LayoutPrefix + t.TempDir()
}

// supplyChain is a signed layout of two steps and their links, bound to
// nothing in particular: what oci stores does not depend on it.
type supplyChain struct {
	owner  *attest.Signer
	layout []byte
	links  map[string][]byte
}

func newSupplyChain(t testing.TB, form attest.Form) *supplyChain {
	t.Helper()
	owner, _ := attest.GenerateKey("")
	f, _ := attest.GenerateKey("")
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{f.Key().KeyID: f.Key()}}
	for _, step := range []string{"build", "test"} {
		l.Steps = append(l.Steps, attest.Step{Name: step, Threshold: 1, PubKeys: []string{f.Key().KeyID}})
	}
	sc := &supplyChain{owner: owner, links: map[string][]byte{}}
	sc.layout = sign(t, form, must(l.Marshal()), owner)
	for _, step := range []string{"build", "test"} {
		link := &attest.Link{Name: step, Products: map[string]attest.HashObj{step + ".out": {"sha256": strings.Repeat("ab", 32)}}}
		sc.links[step] = sign(t, form, must(link.Marshal()), f)
	}
	return sc
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func sign(t testing.TB, form attest.Form, payload []byte, s *attest.Signer) []byte {
	t.Helper()
	env, err := attest.SignPayload(form, payload, s)
	if err != nil {
		t.Fatal(err)
	}
	return must(env.Marshal())
}

func fetch(t testing.TB, s content.Fetcher, d ocispec.Descriptor) []byte {
	t.Helper()
	b, err := content.FetchAll(context.Background(), s, d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var _ = bytes.Equal
