package main

import (
	"context"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// chainKeys are the owner and the functionaries that take turns over the
// steps of the registry chains.
type chainKeys struct {
	owner *attest.Signer
	funcs []*attest.Signer
}

func newChainKeys() (*chainKeys, error) {
	k := &chainKeys{}
	var err error
	if k.owner, err = benchKey("owner"); err != nil {
		return nil, err
	}
	for _, n := range []string{"alice", "bob", "carol"} {
		s, err := benchKey(n)
		if err != nil {
			return nil, err
		}
		k.funcs = append(k.funcs, s)
	}
	return k, nil
}

// openRepo opens host/repo (the direct address: setting up is not
// measured).
func openRepo(ctx context.Context, host, repo string) (oci.Store, error) {
	ref, err := oci.ParseReference(host + "/" + repo + ":x")
	if err != nil {
		return nil, err
	}
	return oci.Open(ctx, ref, oci.Options{})
}

// pushImage pushes a small image whose content is fixed by content.
func pushImage(ctx context.Context, s oci.Store, content string) (ocispec.Descriptor, error) {
	layer, err := oras.PushBytes(ctx, s, ocispec.MediaTypeImageLayer, []byte(content))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the image: %w", err)
	}
	config, err := oras.PushBytes(ctx, s, ocispec.MediaTypeImageConfig,
		[]byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"bench":%q}`, content)))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the image: %w", err)
	}
	desc, err := oras.PackManifest(ctx, s, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{ConfigDescriptor: &config, Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the image: %w", err)
	}
	return desc, nil
}

// signedBy returns a function that signs a marshalled payload with s as
// a DSSE envelope: signedBy(s)(link.Marshal()).
func signedBy(s *attest.Signer) func(payload []byte, err error) ([]byte, error) {
	return func(payload []byte, err error) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		env, err := attest.SignPayload(attest.FormDSSE, payload, s)
		if err != nil {
			return nil, err
		}
		return env.Marshal()
	}
}

// pushChain pushes an image to host/repo with a signed chain of n steps,
// one link each, attached as referrers: every step MATCHes the products
// of the one before, the last records the image (attest.ImageArtifact),
// which binds the evidence to it. The first step has first products, the
// others three. It returns the image's digest and the size of the
// largest link.
func pushChain(ctx context.Context, host, repo string, n, first int, k *chainKeys) (digest string, largest int, err error) {
	s, err := openRepo(ctx, host, repo)
	if err != nil {
		return "", 0, err
	}
	image, err := pushImage(ctx, s, repo)
	if err != nil {
		return "", 0, err
	}
	layout := attest.Layout{Expires: "2036-01-01T00:00:00Z", Readme: "referee bench chain", Keys: map[string]*attest.Key{}}
	for _, f := range k.funcs {
		layout.Keys[f.Key().KeyID] = f.Key()
	}
	var docs [][]byte
	var prev map[string]attest.HashObj
	for i := 0; i < n; i++ {
		name, f := fmt.Sprintf("step%03d", i), k.funcs[i%len(k.funcs)]
		var mat []string
		if i > 0 {
			mat = []string{fmt.Sprintf("MATCH out%03d/* WITH PRODUCTS FROM step%03d", i-1, i-1), "DISALLOW *"}
		}
		prod := []string{fmt.Sprintf("CREATE out%03d/*", i)}
		products := map[string]attest.HashObj{}
		count := 3
		if i == 0 {
			count = first
		}
		for j := 0; j < count; j++ {
			products[fmt.Sprintf("out%03d/d%03d/f%05d", i, j/100, j)] = attest.HashObj{"sha256": fmt.Sprintf("%064x", i*1_000_000+j+1)}
		}
		if i == n-1 {
			prod = append(prod, "CREATE "+attest.ImageArtifact)
			products[attest.ImageArtifact] = attest.HashObj{"sha256": image.Digest.Encoded()}
		}
		matTok, err := ruleTokens(mat)
		if err != nil {
			return "", 0, err
		}
		prodTok, err := ruleTokens(append(prod, "DISALLOW *"))
		if err != nil {
			return "", 0, err
		}
		layout.Steps = append(layout.Steps, attest.Step{Name: name, Threshold: 1, PubKeys: []string{f.Key().KeyID},
			ExpectedMaterials: matTok, ExpectedProducts: prodTok})
		l := &attest.Link{Name: name, Command: []string{"make", name}, Materials: prev, Products: products}
		doc, err := signedBy(f)(l.Marshal())
		if err != nil {
			return "", 0, fmt.Errorf("link %s: %w", name, err)
		}
		docs = append(docs, doc)
		largest = max(largest, len(doc))
		prev = products
	}
	doc, err := signedBy(k.owner)(layout.Marshal())
	if err != nil {
		return "", 0, fmt.Errorf("layout: %w", err)
	}
	for _, d := range append([][]byte{doc}, docs...) {
		if _, err := oci.Attach(ctx, s, image, d, oci.AttachOptions{}); err != nil {
			return "", 0, fmt.Errorf("attaching to %s/%s: %w", host, repo, err)
		}
	}
	return image.Digest.String(), largest, nil
}

// pushImages pushes count images to host/repo, each with a layout and
// three links bound to it (build, scan, push: the layout and the first two
// links are the same for every image), and returns their digests.
func pushImages(ctx context.Context, host, repo string, count int, k *chainKeys) ([]string, error) {
	s, err := openRepo(ctx, host, repo)
	if err != nil {
		return nil, err
	}
	f := k.funcs[0]
	rules := func(r ...string) [][]string { t, _ := ruleTokens(r); return t }
	l := attest.Layout{Expires: "2036-01-01T00:00:00Z", Readme: "referee bench images", Keys: map[string]*attest.Key{f.Key().KeyID: f.Key()}}
	l.Steps = []attest.Step{
		{Name: "build", Threshold: 1, PubKeys: []string{f.Key().KeyID}, ExpectedProducts: rules("CREATE app.tar", "DISALLOW *")},
		{Name: "scan", Threshold: 1, PubKeys: []string{f.Key().KeyID}, ExpectedMaterials: rules("MATCH app.tar WITH PRODUCTS FROM build", "DISALLOW *")},
		{Name: "push", Threshold: 1, PubKeys: []string{f.Key().KeyID}, ExpectedMaterials: rules("MATCH app.tar WITH PRODUCTS FROM build", "DISALLOW *"),
			ExpectedProducts: rules("CREATE "+attest.ImageArtifact, "DISALLOW *")},
	}
	layout, err := signedBy(k.owner)(l.Marshal())
	if err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	tar := map[string]attest.HashObj{"app.tar": {"sha256": strings.Repeat("cd", 32)}}
	build, err := signedBy(f)((&attest.Link{Name: "build", Products: tar}).Marshal())
	if err != nil {
		return nil, err
	}
	scan, err := signedBy(f)((&attest.Link{Name: "scan", Materials: tar}).Marshal())
	if err != nil {
		return nil, err
	}
	var digests []string
	for i := 0; i < count; i++ {
		img, err := pushImage(ctx, s, fmt.Sprintf("image %d", i))
		if err != nil {
			return nil, err
		}
		push, err := signedBy(f)((&attest.Link{Name: "push", Materials: tar,
			Products: map[string]attest.HashObj{attest.ImageArtifact: {"sha256": img.Digest.Encoded()}}}).Marshal())
		if err != nil {
			return nil, err
		}
		for _, d := range [][]byte{layout, build, scan, push} {
			if _, err := oci.Attach(ctx, s, img, d, oci.AttachOptions{}); err != nil {
				return nil, fmt.Errorf("attaching to %s/%s: %w", host, repo, err)
			}
		}
		digests = append(digests, img.Digest.String())
	}
	return digests, nil
}
