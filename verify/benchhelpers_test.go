package verify_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
)

// benchRegistry is go-containerregistry's registry (with the OCI 1.1
// referrers API) served twice from one in-memory store: directly, for
// setup, and behind a testenv.DelayHandler, for what is measured.
type benchRegistry struct {
	direct, slow string // host:port
	proxy        *testenv.DelayHandler
}

func newBenchRegistry(tb testing.TB, delay time.Duration) *benchRegistry {
	tb.Helper()
	h := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	p := &testenv.DelayHandler{Next: h, Delay: delay}
	direct, slow := httptest.NewServer(h), httptest.NewServer(p)
	tb.Cleanup(direct.Close)
	tb.Cleanup(slow.Close)
	return &benchRegistry{
		direct: strings.TrimPrefix(direct.URL, "http://"),
		slow:   strings.TrimPrefix(slow.URL, "http://"),
		proxy:  p,
	}
}

// benchChain is a signed supply chain of n steps, one link each, every
// step MATCHing the products of the step before, the last one binding the
// image (it records attest.ImageArtifact, which the layout names in its
// expected_products); all of it attached to the image as referrers.
type benchChain struct {
	repo   string // repository path, without host
	tag    string
	image  ocispec.Descriptor
	owner  *attest.Signer
	layout []byte            // root.layout (DSSE)
	links  map[string][]byte // STEP.KEYID8.link -> file (DSSE)
}

// newBenchChain builds the chain and pushes image and referrers straight
// to host (not through any proxy). Functionaries take turns over the
// steps; keys are ed25519 and envelopes DSSE, which in-toto-golang reads.
func newBenchChain(tb testing.TB, host, repo string, n int) *benchChain {
	tb.Helper()
	ctx := context.Background()
	ref, err := oci.ParseReference(host + "/" + repo + ":v1")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := oci.Open(ctx, ref, oci.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	image := pushBenchImage(tb, s, repo, "v1")

	owner := mustKey(tb)
	funcs := []*attest.Signer{mustKey(tb), mustKey(tb), mustKey(tb)}
	layout := attest.Layout{Expires: time.Now().Add(24 * time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{}}
	for _, f := range funcs {
		layout.Keys[f.Key().KeyID] = f.Key()
	}
	c := &benchChain{repo: repo, tag: "v1", image: image, owner: owner, links: map[string][]byte{}}
	var prev map[string]attest.HashObj
	for i := 0; i < n; i++ {
		name, f := fmt.Sprintf("step%02d", i), funcs[i%len(funcs)]
		var materials [][]string
		if i > 0 {
			materials = rules(tb, fmt.Sprintf("MATCH out%02d/* WITH PRODUCTS FROM step%02d", i-1, i-1), "DISALLOW *")
		}
		productRules := []string{fmt.Sprintf("CREATE out%02d/*", i)}
		products := map[string]attest.HashObj{}
		for j := 0; j < 3; j++ {
			products[fmt.Sprintf("out%02d/file%d", i, j)] = attest.HashObj{"sha256": fmt.Sprintf("%064x", i*100+j+1)}
		}
		if i == n-1 {
			productRules = append(productRules, "CREATE "+attest.ImageArtifact)
			products[attest.ImageArtifact] = attest.HashObj{"sha256": image.Digest.Encoded()}
		}
		layout.Steps = append(layout.Steps, attest.Step{
			Name: name, Threshold: 1, PubKeys: []string{f.Key().KeyID},
			ExpectedMaterials: materials, ExpectedProducts: rules(tb, append(productRules, "DISALLOW *")...),
		})
		l := &attest.Link{Name: name, Command: []string{"make", name}, Materials: prev, Products: products}
		c.links[attest.LinkFileName(name, f.Key().KeyID)] = signedFile(tb, mustMarshal(tb, l.Marshal), f)
		prev = products
	}
	c.layout = signedFile(tb, mustMarshal(tb, layout.Marshal), owner)

	if _, err := oci.Attach(ctx, s, image, c.layout, oci.AttachOptions{}); err != nil {
		tb.Fatal(err)
	}
	for _, file := range c.links {
		if _, err := oci.Attach(ctx, s, image, file, oci.AttachOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// writeFiles writes root.layout, owner.pub and links/ to dir, as
// in-toto-verify and in-toto-golang expect them.
func (c *benchChain) writeFiles(tb testing.TB, dir string) {
	tb.Helper()
	pub, err := c.owner.Key().MarshalPublicPEM()
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "links"), 0o755); err != nil {
		tb.Fatal(err)
	}
	files := map[string][]byte{"root.layout": c.layout, "owner.pub": pub}
	for name, data := range c.links {
		files[filepath.Join("links", name)] = data
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func pushBenchImage(tb testing.TB, s oci.Store, content, tag string) ocispec.Descriptor {
	tb.Helper()
	ctx := context.Background()
	layer, err := oras.PushBytes(ctx, s, ocispec.MediaTypeImageLayer, []byte(content))
	if err != nil {
		tb.Fatal(err)
	}
	config, err := oras.PushBytes(ctx, s, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	if err != nil {
		tb.Fatal(err)
	}
	desc, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{ConfigDescriptor: &config, Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Tag(ctx, desc, tag); err != nil {
		tb.Fatal(err)
	}
	return desc
}

func mustMarshal(tb testing.TB, marshal func() ([]byte, error)) []byte {
	tb.Helper()
	b, err := marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func signedFile(tb testing.TB, payload []byte, s *attest.Signer) []byte {
	tb.Helper()
	env, err := attest.SignPayload(attest.FormDSSE, payload, s)
	if err != nil {
		tb.Fatal(err)
	}
	return mustMarshal(tb, env.Marshal)
}

// inTotoGolang finds the in-toto-golang binary (PATH, then ~/go/bin), or
// returns "".
func inTotoGolang() string {
	if p, err := exec.LookPath("in-toto-golang"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "in-toto-golang")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}
