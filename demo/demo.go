// Package demo runs referee's main job end to end on an embedded supply
// chain: keys and a layout, three recorded steps that build an image and
// push it to a registry, the layout and links attached to the image as
// referrers, verification from the registry alone (a pass), and the same
// evidence replayed onto another image (a readable failure).
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/registry"
	"github.com/referee-dev/referee/verify"
)

// Options controls the demo.
type Options struct {
	// Dir is where the demo works and what it leaves behind (its keys, the
	// layout key as Dir/owner.pub); empty means a temporary directory,
	// removed afterwards.
	Dir string
	// Registry is HOST[:PORT]/REPO to use; empty starts referee's embedded
	// registry for the length of the demo.
	Registry string
	// Log receives the narration.
	Log io.Writer
	// OCI is how Registry is reached (plain HTTP, CA file, credentials,
	// timeouts, limits); the embedded registry needs nothing.
	OCI oci.Options
}

// spec is the demo's layout: alice checks out the source, bob builds it,
// alice pushes the image. Every product must come from the step before,
// and the push step binds the evidence to the image it pushed.
const spec = `expires: 1mo
version: 1
readme: referee demo supply chain
functionaries:
  alice: alice.pub
  bob: bob.pub
slsa:
  build: build
steps:
  - name: checkout
    functionaries: [alice]
    expected_command: sh -c "mkdir -p src && echo 'package main' > src/main.go && echo 1.0.0 > src/VERSION"
    expected_products: [CREATE src/*, DISALLOW *]
  - name: build
    functionaries: [bob]
    expected_command: tar -cf app.tar src
    expected_materials: [MATCH src/* WITH PRODUCTS FROM checkout, DISALLOW *]
    expected_products: [CREATE app.tar, DISALLOW *]
  - name: push
    functionaries: [alice]
    expected_materials: [MATCH app.tar WITH PRODUCTS FROM build, DISALLOW *]
    expected_products: [CREATE ` + attest.ImageArtifact + `, DISALLOW *]
`

// Run performs the demo, narrating to o.Log, and returns the verified
// image's digest reference (HOST/REPO@sha256:…). It fails unless the honest
// image verifies and the replayed evidence is refused.
func Run(ctx context.Context, o Options) (string, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "referee-demo-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	repo := o.Registry
	if repo == "" {
		ctx2, stop := context.WithCancel(ctx)
		defer stop()
		addr, err := startRegistry(ctx2)
		if err != nil {
			return "", err
		}
		repo = addr + "/referee-demo"
		ctx = ctx2
	}
	d := &run{ctx: ctx, w: o.Log, dir: dir, repo: repo, oci: o.OCI, keep: o.Dir != "" && o.Registry != "", keys: map[string]*attest.Signer{}}
	return d.all()
}

// startRegistry serves referee's embedded registry (with the referrers
// API) on a free loopback port until ctx ends.
func startRegistry(ctx context.Context) (string, error) {
	h, err := registry.New(registry.Options{})
	if err != nil {
		return "", err
	}
	ready := make(chan net.Addr, 1)
	failed := make(chan error, 1)
	go func() { failed <- registry.Serve(ctx, "127.0.0.1:0", h, func(a net.Addr) { ready <- a }) }()
	select {
	case a := <-ready:
		return a.String(), nil
	case err := <-failed:
		return "", fmt.Errorf("starting the embedded registry: %w", err)
	}
}

type run struct {
	oci  oci.Options
	ctx  context.Context
	w    io.Writer
	dir  string
	repo string
	keep bool
	keys map[string]*attest.Signer
	docs [][]byte
}

func (d *run) say(format string, a ...any) { fmt.Fprintf(d.w, format+"\n", a...) }

func (d *run) path(p string) string { return filepath.Join(d.dir, p) }

func (d *run) all() (string, error) {
	d.say("referee demo: keys in %s, registry %s", d.dir, d.repo)
	for _, name := range []string{"owner", "alice", "bob"} {
		s, err := attest.GenerateKey(attest.KeyTypeEd25519)
		if err != nil {
			return "", err
		}
		if err := attest.WriteKeyPair(d.path(name), s, true); err != nil {
			return "", err
		}
		d.keys[name] = s
		d.say("  key %-5s %s", name, s.Key().KeyID)
	}
	if err := d.createLayout(); err != nil {
		return "", err
	}
	work := d.path("work")
	if err := os.RemoveAll(work); err != nil {
		return "", err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", err
	}
	if err := d.step(work, "checkout", "alice", nil, []string{"src"}, []string{"sh", "-c", "mkdir -p src && echo 'package main' > src/main.go && echo 1.0.0 > src/VERSION"}); err != nil {
		return "", err
	}
	if err := d.step(work, "build", "bob", []string{"src"}, []string{"app.tar"}, []string{"tar", "-cf", "app.tar", "src"}); err != nil {
		return "", err
	}
	store, image, err := d.push(work)
	if err != nil {
		return "", err
	}
	ref := d.repo + "@" + image.Digest.String()

	d.say("\n== attach the layout and the links to %s", ref)
	for _, doc := range d.docs {
		a, err := oci.Attach(d.ctx, store, image, doc, oci.AttachOptions{})
		if err != nil {
			return "", err
		}
		d.say("  referrer %s", a.Manifest.Digest)
	}
	if err := d.tree(store, image); err != nil {
		return "", err
	}

	d.say("\n== verify %s from the registry alone", ref)
	if err := d.verify(store, image); err != nil {
		return "", fmt.Errorf("the honest image should verify: %w", err)
	}

	d.say("\n== an attacker pushes another image and copies all the evidence onto it")
	other, err := d.pushImage(store, []byte("malicious build output\n"), "evil")
	if err != nil {
		return "", err
	}
	for _, doc := range d.docs {
		if _, err := oci.Attach(d.ctx, store, other, doc, oci.AttachOptions{}); err != nil {
			return "", err
		}
	}
	d.say("  %s@%s now has the same signed layout and links as referrers", d.repo, other.Digest)
	d.say("\n== verify the other image")
	err = d.verify(store, other)
	if !verify.IsNotVerified(err) {
		return "", fmt.Errorf("the replayed evidence should not verify the other image (got %v)", err)
	}
	d.say("\nreferee refused the replayed evidence, as it should.")
	if d.keep {
		d.say("the same from the command line: referee verify %s --layout-key %s", ref, d.path("owner.pub"))
	}
	return ref, nil
}

func (d *run) createLayout() error {
	s, err := attest.ParseSpec([]byte(spec))
	if err != nil {
		return err
	}
	l, err := s.Layout(func(p string) (*attest.Key, error) { return attest.LoadPublicKey(d.path(p)) }, time.Now())
	if err != nil {
		return err
	}
	payload, err := l.Marshal()
	if err != nil {
		return err
	}
	d.say("  layout: checkout → build → push, signed by owner, version 1, expires %s", l.Expires)
	return d.sign(payload, d.keys["owner"], "root.layout")
}

// sign signs a payload, keeps the envelope to attach, and writes it to dir.
func (d *run) sign(payload []byte, s *attest.Signer, name string) error {
	env, err := attest.SignPayload(attest.FormDSSE, payload, s)
	if err != nil {
		return err
	}
	data, err := env.Marshal()
	if err != nil {
		return err
	}
	d.docs = append(d.docs, data)
	return attest.WriteFileAtomic(d.path(name), data, 0o644, true)
}

func (d *run) step(work, name, who string, materials, products, cmd []string) error {
	link, _, err := attest.RunStep(d.ctx, attest.RunOptions{
		StepName: name, Command: cmd, Materials: materials, Products: products,
		Record: attest.RecordOptions{Dir: work},
	})
	if err != nil {
		return fmt.Errorf("step %s: %w", name, err)
	}
	if rv, _ := link.Byproducts["return-value"].(int); rv != 0 {
		return fmt.Errorf("step %s: %q exited with %d: %v", name, cmd[0], rv, link.Byproducts["stderr"])
	}
	d.say("  %s: %s ran %q", name, who, strings.Join(cmd, " "))
	return d.signLink(link, who)
}

func (d *run) signLink(link *attest.Link, who string) error {
	payload, err := link.Marshal()
	if err != nil {
		return err
	}
	s := d.keys[who]
	return d.sign(payload, s, attest.LinkFileName(link.Name, s.Key().KeyID))
}

// push is the push step: app.tar becomes the layer of an image pushed to
// the registry, and alice's link records the image manifest as its product.
func (d *run) push(work string) (oci.Store, ocispec.Descriptor, error) {
	link, _, err := attest.StartStep(d.ctx, attest.RunOptions{StepName: "push", Materials: []string{"app.tar"}, Record: attest.RecordOptions{Dir: work}})
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	ref, err := oci.ParseReference(d.repo + ":demo")
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	store, err := oci.Open(d.ctx, ref, d.oci)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	tar, err := os.ReadFile(filepath.Join(work, "app.tar"))
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	image, err := d.pushImage(store, tar, "demo")
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	hex := strings.TrimPrefix(image.Digest.String(), "sha256:")
	link.Products = map[string]attest.HashObj{attest.ImageArtifact: {"sha256": hex}}
	d.say("  push: alice pushed %s:demo (%s)", d.repo, image.Digest)
	return store, image, d.signLink(link, "alice")
}

// pushImage pushes a one-layer OCI image and tags it.
func (d *run) pushImage(s oci.Store, layer []byte, tag string) (ocispec.Descriptor, error) {
	l, err := oras.PushBytes(d.ctx, s, ocispec.MediaTypeImageLayer, layer)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	config, err := oras.PushBytes(d.ctx, s, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	image, err := oras.PackManifest(d.ctx, s, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{ConfigDescriptor: &config, Layers: []ocispec.Descriptor{l}})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return image, s.Tag(d.ctx, image, tag)
}

func (d *run) tree(s oci.Store, image ocispec.Descriptor) error {
	g, err := oci.Discover(d.ctx, s, image, oci.DiscoverOptions{})
	if err != nil {
		return err
	}
	d.say("\n== the referrer graph (referee discover)")
	return g.WriteTree(d.w, d.repo+"@"+image.Digest.String())
}

func (d *run) verify(s oci.Store, image ocispec.Descriptor) error {
	r, verr := verify.Image(d.ctx, s, image, verify.ImageOptions{Options: verify.Options{LayoutKeys: []*attest.Key{d.keys["owner"].Key()}}})
	if r == nil {
		return verr
	}
	if err := r.WriteText(d.w); err != nil {
		return errors.Join(verr, err)
	}
	return verr
}
