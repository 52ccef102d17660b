package testenv

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// BigLink returns a DSSE link envelope of step of about size bytes, its
// payload a valid link with many products (so that decoding it is as
// costly as it can be), signed by signers (none: unsigned).
func BigLink(tb testing.TB, step string, size int, signers ...*attest.Signer) []byte {
	tb.Helper()
	var p bytes.Buffer
	fmt.Fprintf(&p, `{"_type":"link","name":%q,"command":[],"materials":{},"products":{`, step)
	hash := strings.Repeat("ab", 32)
	// base64 makes 3 bytes 4; keep room for the envelope around it.
	for i := 0; p.Len() < (size-1024)/4*3; i++ {
		if i > 0 {
			p.WriteByte(',')
		}
		fmt.Fprintf(&p, `"p/%08d":{"sha256":%q}`, i, hash)
	}
	p.WriteString(`},"byproducts":{},"environment":{}}`)
	env, err := attest.SignPayload(attest.FormDSSE, p.Bytes(), signers...)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := env.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// AttachRaw attaches envelope bytes to subject as referee attaches a link
// of step, without the checks Attach makes (it refuses unsigned
// documents), as anyone who can push can. It returns the referrer's
// manifest.
func AttachRaw(tb testing.TB, s oci.Store, subject ocispec.Descriptor, step string, data []byte) ocispec.Descriptor {
	tb.Helper()
	a, err := oci.AttachReferrer(context.Background(), s, subject, oci.Referrer{
		ArtifactType:   oci.ArtifactTypeLinkDSSE,
		LayerMediaType: oci.MediaTypeDSSE,
		Data:           data,
		Title:          step + ".link",
		Annotations:    map[string]string{oci.AnnotationKind: "link", oci.AnnotationStep: step},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a.Manifest
}
