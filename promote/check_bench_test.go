package promote_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/promote"
	"github.com/referee-dev/referee/registry"
	"github.com/referee-dev/referee/verify"
)

// latency delays every request by d, as a registry across a network does.
type latency struct {
	h http.Handler
	d time.Duration
}

func (l latency) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(l.d)
	l.h.ServeHTTP(w, r)
}

// benchImages pushes n images, each with a layout and three links bound to
// it, to a registry behind a 20 ms latency and returns their references
// and the owner key.
func benchImages(b *testing.B, n int) ([]string, *attest.Key) {
	b.Helper()
	h, err := registry.New(registry.Options{})
	if err != nil {
		b.Fatal(err)
	}
	direct := httptest.NewServer(h)
	b.Cleanup(direct.Close)
	slow := httptest.NewServer(latency{h, 20 * time.Millisecond})
	b.Cleanup(slow.Close)
	host, slowHost := strings.TrimPrefix(direct.URL, "http://"), strings.TrimPrefix(slow.URL, "http://")
	images, owner := pushBenchImages(b, host, n, func(int) string { return "app" }, "")
	var refs []string
	for _, img := range images {
		refs = append(refs, slowHost+"/"+img.repo+"@"+img.digest.String())
	}
	return refs, owner
}

// checkAll checks refs with CheckMany, parallel at once, and fails unless
// every one verifies.
func checkAll(tb testing.TB, refs []string, o promote.CheckOptions, parallel int) {
	tb.Helper()
	verified := 0
	err := promote.CheckMany(context.Background(), refs, o, parallel, func(out promote.Outcome) error {
		if out.Err != nil {
			return out.Err
		}
		verified++
		return nil
	})
	if err != nil || verified != len(refs) {
		tb.Fatalf("%d verified: %v", verified, err)
	}
}

// benchImage is an image pushBenchImages pushed.
type benchImage struct {
	repo   string
	digest digest.Digest
}

// pushBenchImages pushes n images to the registry at host, image i to
// repository repo(i), tagged tag ("" for none), each with a layout and
// three links bound to it (build, scan, push) that verify, and returns
// them and the layout owner's key.
func pushBenchImages(tb testing.TB, host string, n int, repo func(i int) string, tag string) ([]benchImage, *attest.Key) {
	tb.Helper()
	ctx := context.Background()
	owner, _ := attest.GenerateKey("")
	f, _ := attest.GenerateKey("")
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{f.Key().KeyID: f.Key()}}
	rule := func(s string) []string { r, _ := attest.ParseRuleString(s); return r.Tokens() }
	l.Steps = []attest.Step{
		{Name: "build", Threshold: 1, PubKeys: []string{f.Key().KeyID}, ExpectedProducts: [][]string{rule("CREATE app.tar"), rule("DISALLOW *")}},
		{Name: "scan", Threshold: 1, PubKeys: []string{f.Key().KeyID}, ExpectedMaterials: [][]string{rule("MATCH app.tar WITH PRODUCTS FROM build"), rule("DISALLOW *")}},
		{Name: "push", Threshold: 1, PubKeys: []string{f.Key().KeyID}, ExpectedMaterials: [][]string{rule("MATCH app.tar WITH PRODUCTS FROM build"), rule("DISALLOW *")}, ExpectedProducts: [][]string{rule("CREATE " + attest.ImageArtifact), rule("DISALLOW *")}},
	}
	signer := owner
	sign := func(payload []byte, err error) []byte {
		if err != nil {
			tb.Fatal(err)
		}
		env, err := attest.SignPayload(attest.FormDSSE, payload, signer)
		if err != nil {
			tb.Fatal(err)
		}
		data, _ := env.Marshal()
		return data
	}
	layout := sign(l.Marshal())
	signer = f
	tar := map[string]attest.HashObj{"app.tar": {"sha256": strings.Repeat("cd", 32)}}
	build := sign((&attest.Link{Name: "build", Products: tar}).Marshal())
	scan := sign((&attest.Link{Name: "scan", Materials: tar}).Marshal())

	var images []benchImage
	for i := 0; i < n; i++ {
		ref, _ := oci.ParseReference(host + "/" + repo(i) + ":x")
		s, err := oci.Open(ctx, ref, oci.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		layer, _ := oras.PushBytes(ctx, s, ocispec.MediaTypeImageLayer, []byte(fmt.Sprintf("image %d", i)))
		config, _ := oras.PushBytes(ctx, s, ocispec.MediaTypeImageConfig, []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","n":%d}`, i)))
		img, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{ConfigDescriptor: &config, Layers: []ocispec.Descriptor{layer}})
		if err != nil {
			tb.Fatal(err)
		}
		if tag != "" {
			if err := s.Tag(ctx, img, tag); err != nil {
				tb.Fatal(err)
			}
		}
		hex := strings.TrimPrefix(img.Digest.String(), "sha256:")
		push := sign((&attest.Link{Name: "push", Materials: tar, Products: map[string]attest.HashObj{attest.ImageArtifact: {"sha256": hex}}}).Marshal())
		for _, doc := range [][]byte{layout, build, scan, push} {
			if _, err := oci.Attach(ctx, s, img, doc, oci.AttachOptions{}); err != nil {
				tb.Fatal(err)
			}
		}
		images = append(images, benchImage{repo(i), img.Digest})
	}
	return images, owner.Key()
}

// BenchmarkVerifyMany verifies 100 images (as `referee verify -` reads them
// from stdin) against a registry 20 ms away, one at a time and 16 at once,
// and reports images per second for each.
func BenchmarkVerifyMany(b *testing.B) {
	refs, owner := benchImages(b, 100)
	o := promote.CheckOptions{Full: verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{owner}}}}
	for _, parallel := range []int{1, 16} {
		b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				checkAll(b, refs, o, parallel)
			}
			b.ReportMetric(float64(len(refs)*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
