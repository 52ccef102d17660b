package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/urfave/cli/v2"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli/internal/option"
	"github.com/referee-dev/referee/oci"
)

// target is an image resolved once, to attach to.
type target struct {
	s    oci.Store
	ref  oci.Reference
	desc ocispec.Descriptor
}

// openTarget resolves image; nil when image is empty.
func openTarget(c *cli.Context, image string, o oci.Options) (*target, error) {
	if image == "" {
		return nil, nil
	}
	s, ref, desc, err := oci.OpenResolved(c.Context, image, o)
	if err != nil {
		return nil, err
	}
	return &target{s, ref, desc}, nil
}

// attachedJSON is one attached file in --format json.
type attachedJSON struct {
	File     string `json:"file"`
	Kind     string `json:"kind,omitempty"`
	Image    string `json:"image"`
	Referrer string `json:"referrer"`
	Existed  bool   `json:"existed,omitempty"`
}

// attach attaches each document to the target and returns what it did;
// each is said on msgs as it happens.
func (t *target) attach(ctx context.Context, msgs io.Writer, names []string, docs [][]byte, o oci.AttachOptions) ([]attachedJSON, error) {
	var res []attachedJSON
	for i, doc := range docs {
		a, err := t.attachOne(msgs, names[i], "", func() (oci.Attached, error) { return oci.Attach(ctx, t.s, t.desc, doc, o) })
		if err != nil {
			return res, err
		}
		res = append(res, a)
	}
	return res, nil
}

// attachOne runs one attach, says what it did on msgs, and describes it.
func (t *target) attachOne(msgs io.Writer, name, kind string, attach func() (oci.Attached, error)) (attachedJSON, error) {
	a, err := attach()
	if err != nil {
		return attachedJSON{}, fmt.Errorf("attaching %s to %s: %w", name, t.ref, err)
	}
	verb := "attached"
	if a.Existed {
		verb = "already attached"
	}
	what := name
	if kind != "" {
		what = kind + " " + name
	}
	fmt.Fprintf(msgs, "%s %s to %s as %s\n", verb, what, t.ref, a.Manifest.Digest)
	return attachedJSON{File: name, Kind: kind, Image: t.ref.String(), Referrer: a.Manifest.Digest.String(), Existed: a.Existed}, nil
}

// signAndWrite signs payload in an envelope of form and writes it to
// path as writeEnvelope does, returning the bytes written
// (attest.WriteSignedFile: a DSSE payload is encoded and written while
// it is signed).
func signAndWrite(path string, form attest.Form, payload []byte, force bool, signers ...*attest.Signer) ([]byte, error) {
	return attest.WriteSignedFile(path, 0o644, force, form, payload, signers...)
}

// writeEnvelope encodes env and writes it atomically; it returns the bytes
// written.
func writeEnvelope(path string, env *attest.Envelope, force bool) ([]byte, error) {
	data, err := env.Marshal()
	if err != nil {
		return nil, err
	}
	return data, attest.WriteFileAtomic(path, data, 0o644, force)
}

// publishedJSON is a written document in --format json.
type publishedJSON struct {
	File     string `json:"file"`
	Step     string `json:"step,omitempty"`
	Image    string `json:"image,omitempty"`
	Referrer string `json:"referrer,omitempty"`
	Existed  bool   `json:"existed,omitempty"`
}

// published reports a written file: with a target (--attach), it is
// attached to the image and the referrer digest goes to stdout (the path
// to stderr); otherwise the path goes to stdout. The file is on disk before
// anything is attached, so a failed attach loses nothing.
func published(c *cli.Context, out *option.Output, t *target, step, path string, data []byte) error {
	res := publishedJSON{File: path, Step: step}
	if t != nil {
		fmt.Fprintf(out.Stderr(c), "wrote %s\n", path)
		as, err := t.attach(c.Context, out.Stderr(c), []string{path}, [][]byte{data}, oci.AttachOptions{})
		if err != nil {
			return fmt.Errorf("%w (the file is written: referee attach %s %s)", err, t.ref, path)
		}
		res.Image, res.Referrer, res.Existed = as[0].Image, as[0].Referrer, as[0].Existed
	}
	w := out.Stdout(c)
	if out.JSON() {
		return option.WriteJSON(w, res)
	}
	line := res.File
	if res.Referrer != "" {
		line = res.Referrer
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// checkEmptyDir refuses a directory with files in it (named by flag): the
// command would replace them, or mix its files with them.
func checkEmptyDir(dir, flag string) error {
	es, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s %s: %w", flag, dir, err)
	case len(es) > 0:
		return option.Usagef("%s %s: the directory is not empty; give a new directory, or --force", flag, dir)
	}
	return nil
}
