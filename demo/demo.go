// Package demo runs referee's main job end to end on an embedded supply
// chain: keys, a layout, three recorded steps, a verification that passes,
// and one that fails after an artifact is swapped between two steps.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// Options controls the demo.
type Options struct {
	// Dir is where the demo works and what it leaves behind; empty means a
	// temporary directory that is removed afterwards.
	Dir string
}

// spec is the demo's layout: alice checks out the source, bob builds it,
// alice packages the build. Every product must come from the step before.
const spec = `expires: 1mo
readme: referee demo supply chain
functionaries:
  alice: alice.pub
  bob: bob.pub
steps:
  - name: checkout
    functionaries: [alice]
    expected_command: sh -c "mkdir -p src && echo 'package main' > src/main.go && echo 1.0.0 > src/VERSION"
    expected_products:
      - CREATE src/*
      - DISALLOW *
  - name: build
    functionaries: [bob]
    expected_command: tar -cf app.tar src
    expected_materials:
      - MATCH src/* WITH PRODUCTS FROM checkout
      - DISALLOW *
    expected_products:
      - CREATE app.tar
      - DISALLOW *
  - name: package
    functionaries: [alice]
    expected_command: gzip -kn app.tar
    expected_materials:
      - MATCH app.tar WITH PRODUCTS FROM build
      - DISALLOW *
    expected_products:
      - CREATE app.tar.gz
      - DISALLOW *
`

// Run performs the demo and narrates it to w. It returns nil when the
// honest chain verifies and the tampered one is refused.
func Run(ctx context.Context, w io.Writer, o Options) error {
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "referee-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	d := &run{ctx: ctx, w: w, dir: dir, keep: o.Dir != "", keys: map[string]*attest.Signer{}}
	return d.all()
}

type run struct {
	ctx  context.Context
	w    io.Writer
	dir  string
	keep bool
	keys map[string]*attest.Signer
}

func (d *run) say(format string, a ...any) { fmt.Fprintf(d.w, format+"\n", a...) }

func (d *run) path(p string) string { return filepath.Join(d.dir, p) }

func (d *run) all() error {
	d.say("referee demo in %s", d.dir)
	for _, name := range []string{"owner", "alice", "bob"} {
		s, err := attest.GenerateKey(attest.KeyTypeEd25519)
		if err != nil {
			return err
		}
		if err := attest.WriteKeyPair(d.path(name), s, true); err != nil {
			return err
		}
		d.keys[name] = s
		d.say("  key %-5s %s", name, s.Key().KeyID)
	}
	if err := d.createLayout(); err != nil {
		return err
	}
	work := d.path("work")
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	steps := []struct {
		name, who           string
		materials, products []string
		cmd                 []string
	}{
		{"checkout", "alice", nil, []string{"src"}, []string{"sh", "-c", "mkdir -p src && echo 'package main' > src/main.go && echo 1.0.0 > src/VERSION"}},
		{"build", "bob", []string{"src"}, []string{"app.tar"}, []string{"tar", "-cf", "app.tar", "src"}},
		{"package", "alice", []string{"app.tar"}, []string{"app.tar.gz"}, []string{"gzip", "-kn", "app.tar"}},
	}
	for _, s := range steps {
		if err := d.step(work, s.name, s.who, s.materials, s.products, s.cmd); err != nil {
			return err
		}
	}
	d.say("\n== verify the honest supply chain")
	if err := d.verify(); err != nil {
		return fmt.Errorf("the honest supply chain should verify: %w", err)
	}

	d.say("\n== an attacker replaces app.tar after build, then package runs on it")
	if err := os.WriteFile(filepath.Join(work, "app.tar"), []byte("malicious build output\n"), 0o644); err != nil {
		return err
	}
	os.Remove(filepath.Join(work, "app.tar.gz"))
	if err := d.step(work, "package", "alice", steps[2].materials, steps[2].products, steps[2].cmd); err != nil {
		return err
	}
	d.say("\n== verify again")
	err := d.verify()
	if !verify.IsNotVerified(err) {
		return fmt.Errorf("the tampered supply chain should not verify (got %v)", err)
	}
	d.say("\nreferee refused the tampered chain, as it should (%v)", err)
	if d.keep {
		d.say("the same check on the command line (exit status 1):\n  referee verify --layout %s --layout-key %s --link-dir %s",
			d.path("root.layout"), d.path("owner.pub"), d.path("links"))
	}
	return nil
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
	env, err := attest.SignPayload(attest.FormDSSE, payload, d.keys["owner"])
	if err != nil {
		return err
	}
	data, err := env.Marshal()
	if err != nil {
		return err
	}
	d.say("  layout root.layout: steps checkout → build → package, signed by owner, expires %s", l.Expires)
	if err := os.MkdirAll(d.path("links"), 0o755); err != nil {
		return err
	}
	return attest.WriteFileAtomic(d.path("root.layout"), data, 0o644, true)
}

func (d *run) step(work, name, who string, materials, products, cmd []string) error {
	link, err := attest.RunStep(d.ctx, attest.RunOptions{
		StepName: name, Command: cmd, Materials: materials, Products: products,
		Record: attest.RecordOptions{Dir: work},
	})
	if err != nil {
		return fmt.Errorf("step %s: %w", name, err)
	}
	if rv, _ := link.Byproducts["return-value"].(int); rv != 0 {
		return fmt.Errorf("step %s: %q exited with %d: %v", name, cmd[0], rv, link.Byproducts["stderr"])
	}
	payload, err := link.Marshal()
	if err != nil {
		return err
	}
	signer := d.keys[who]
	env, err := attest.SignPayload(attest.FormDSSE, payload, signer)
	if err != nil {
		return err
	}
	data, err := env.Marshal()
	if err != nil {
		return err
	}
	file := attest.LinkFileName(name, signer.Key().KeyID)
	d.say("  %s ran %q as %s → links/%s", name, cmd, who, file)
	return attest.WriteFileAtomic(filepath.Join(d.path("links"), file), data, 0o644, true)
}

func (d *run) verify() error {
	env, err := attest.ReadEnvelopeFile(d.path("root.layout"), attest.DefaultMaxFileSize)
	if err != nil {
		return err
	}
	links, err := verify.LoadLinkDir(d.path("links"))
	if err != nil {
		return err
	}
	r, verr := verify.Verify(d.ctx, verify.Evidence{Source: "root.layout", Envelope: env}, links,
		verify.Options{LayoutKeys: []*attest.Key{d.keys["owner"].Key()}})
	if r == nil {
		return verr
	}
	if err := r.WriteText(d.w); err != nil {
		return errors.Join(verr, err)
	}
	return verr
}
