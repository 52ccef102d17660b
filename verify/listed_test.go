package verify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// listingProxy stands before a registry: it records the paths of the GET
// requests and lets a test rewrite the entries of referrers listings.
type listingProxy struct {
	host  string
	mu    sync.Mutex
	paths []string
	// rewrite, when set, changes each listed descriptor.
	rewrite func(*ocispec.Descriptor)
}

func newListingProxy(t *testing.T, backend string) *listingProxy {
	t.Helper()
	p := &listingProxy{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodGet {
			return nil
		}
		p.mu.Lock()
		p.paths = append(p.paths, resp.Request.URL.Path)
		rewrite := p.rewrite
		p.mu.Unlock()
		if rewrite == nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.Path, "/referrers/") {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var index ocispec.Index
		if err := json.Unmarshal(body, &index); err != nil {
			return err
		}
		for i := range index.Manifests {
			rewrite(&index.Manifests[i])
		}
		if body, err = json.Marshal(index); err != nil {
			return err
		}
		setBody(resp, body)
		return nil
	}
	p.host = serveProxy(t, rp)
	return p
}

// blobsRead returns how many blobs were fetched.
func (p *listingProxy) blobsRead() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, path := range p.paths {
		if strings.Contains(path, "/blobs/") {
			n++
		}
	}
	return n
}

// manifestsRead returns how many of digests' manifests were fetched.
func (p *listingProxy) manifestsRead(digests ...ocispec.Descriptor) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, path := range p.paths {
		for _, d := range digests {
			if strings.HasSuffix(path, "/manifests/"+d.Digest.String()) {
				n++
			}
		}
	}
	return n
}

// A registry with the referrers API lists referee's referrers with their
// envelopes' digests: verification reads the envelopes straight from the
// listing and no referrer manifest; on the tag schema, whose index
// whoever can push writes, every manifest is read.
func TestListedEnvelopesSkipManifests(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag schema"}[api], func(t *testing.T) {
			c := newTMChain(t)
			backend := tmRegistry(t, api)
			s := tmOpen(t, backend+"/app")
			image := tmPushImage(t, s, "tar")
			refs := []ocispec.Descriptor{
				tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{}),
				tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{}),
				tmAttach(t, s, image, c.pushLink("alice", "tar", image), oci.AttachOptions{}),
			}
			p := newListingProxy(t, backend)
			r, err := c.verify(tmOpen(t, p.host+"/app"), image, verify.ImageOptions{})
			wantImagePass(t, r, err, image)
			want := map[bool]int{true: 0, false: len(refs)}[api]
			if got := p.manifestsRead(refs...); got != want {
				t.Errorf("%d referrer manifests read, want %d", got, want)
			}
			// The envelopes ride in the listing (oci.AnnotationEnvelopeData),
			// on the tag schema too, where the manifests then name them.
			if got := p.blobsRead(); got != 0 {
				t.Errorf("%d blobs read, want none", got)
			}
		})
	}
}

// A registry whose listing names wrong envelopes (another referrer's, a
// blob that is not there, one over the limit, bytes that are no envelope),
// or carries them (oci.AnnotationEnvelopeData), or carries other bytes
// than the envelope it names, cannot make a good image fail, nor pass a
// bad one: what does not verify from the listing is verified again from
// the manifests.
func TestListedEnvelopeLies(t *testing.T) {
	c := newTMChain(t)
	backend := tmRegistry(t, true)
	s := tmOpen(t, backend+"/app")
	image := tmPushImage(t, s, "tar")
	layout := c.signLayout(c.layout(), 1)
	tmAttach(t, s, image, layout, oci.AttachOptions{})
	build := c.buildLink("bob", "tar")
	tmAttach(t, s, image, build, oci.AttachOptions{})
	push := c.pushLink("alice", "tar", image)
	pushRef := tmAttach(t, s, image, push, oci.AttachOptions{})
	huge := tmAttachRaw(t, s, image, "application/vnd.example.big", "application/octet-stream", bytes.Repeat([]byte("x"), 32<<10), nil)
	junk := tmAttachRaw(t, s, image, "application/vnd.example.junk", "application/octet-stream", []byte("not an envelope"), nil)
	hugeBlob, junkBlob := layerOf(t, s, huge), layerOf(t, s, junk)

	// carried, when set, is what the listing then carries as the push
	// link's envelope (oci.AnnotationEnvelopeData).
	for _, tc := range []struct {
		name    string
		blob    digest.Digest
		carried []byte
	}{
		{"another referrer's envelope", digest.FromBytes(build), nil},
		{"the layout's envelope", digest.FromBytes(layout), nil},
		{"a blob that is not there", digest.FromString("nothing"), nil},
		{"a blob over the limit", hugeBlob, nil},
		{"no envelope", junkBlob, nil},
		{"another referrer's envelope, carried", digest.FromBytes(build), build},
		{"the layout's envelope, carried", digest.FromBytes(layout), layout},
		{"no envelope, carried", digest.FromString("not an envelope"), []byte("not an envelope")},
		{"carried bytes that are not the envelope's", digest.FromBytes(push), build},
		{"carried over the limit", digest.FromBytes(bytes.Repeat([]byte("x"), 32<<10)), bytes.Repeat([]byte("x"), 32<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newListingProxy(t, backend)
			p.rewrite = func(d *ocispec.Descriptor) {
				if d.Digest == pushRef.Digest {
					d.Annotations[oci.AnnotationEnvelopeDigest] = tc.blob.String()
					if tc.carried != nil {
						d.Annotations[oci.AnnotationEnvelopeData] = string(tc.carried)
					}
				}
			}
			r, err := c.verify(tmOpen(t, p.host+"/app"), image, verify.ImageOptions{MaxBlobBytes: 16 << 10})
			wantImagePass(t, r, err, image)
		})
	}

	// A bad image stays bad however its listing is rewritten: mallory's
	// push link, listed as naming alice's envelope of another image.
	other := tmPushImage(t, s, "other tar")
	tmAttach(t, s, other, layout, oci.AttachOptions{})
	tmAttach(t, s, other, build, oci.AttachOptions{})
	evil := tmAttach(t, s, other, c.pushLink("mallory", "tar", other), oci.AttachOptions{})
	for _, carried := range []bool{false, true} {
		p := newListingProxy(t, backend)
		p.rewrite = func(d *ocispec.Descriptor) {
			if d.Digest == evil.Digest {
				d.Annotations[oci.AnnotationEnvelopeDigest] = digest.FromBytes(push).String()
				if carried {
					d.Annotations[oci.AnnotationEnvelopeData] = string(push)
				}
			}
		}
		r, err := c.verify(tmOpen(t, p.host+"/app"), other, verify.ImageOptions{})
		wantImageFail(t, r, err, `step "push"`)
	}
}

// layerOf returns the one layer of the manifest desc.
func layerOf(t *testing.T, s oci.Store, desc ocispec.Descriptor) digest.Digest {
	t.Helper()
	data, err := oci.FetchBlob(t.Context(), s, desc, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("manifest %s: %v", desc.Digest, err)
	}
	return m.Layers[0].Digest
}

// A link larger than the blob limit (a step with some hundred thousand
// artifacts makes tens of MB) is not read, and the report names the flag
// that raises the limit; with the limit raised it verifies.
func TestLargeLinkNamesTheLimit(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "tar")
	tmAttach(t, s, image, c.signLayout(c.layout(), 1), oci.AttachOptions{})
	tmAttach(t, s, image, c.buildLink("bob", "tar"), oci.AttachOptions{})
	big := c.paddedPushLink(t, image, 16<<10)
	limit := int64(len(big)) - 1
	tmAttach(t, s, image, big, oci.AttachOptions{})

	r, err := c.verify(s, image, verify.ImageOptions{MaxBlobBytes: limit})
	wantImageFail(t, r, err, `step "push"`, fmt.Sprintf("more than the %d allowed (--max-blob-size raises the limit)", limit))
	r, err = c.verify(s, image, verify.ImageOptions{MaxBlobBytes: limit + 1})
	wantImagePass(t, r, err, image)
}
