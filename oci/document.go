package oci

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/referee-dev/referee/attest"
)

// ReadDocument reads a signed in-toto document of kind ("layout" or
// "link"; "" for either) named by name: a file when a file of that name
// exists, otherwise an OCI reference (HOST/REPO:TAG, HOST/REPO@DIGEST or
// oci-layout:PATH[:TAG|@DIGEST]) to a manifest one of whose layers holds it
// — a referrer attached by referee (discover shows its digest) or a
// document pushed with `oras push`. The reference is resolved once. It
// returns where the document was read (the file, or the reference pinned
// to its digest) and the envelope; signatures are not checked.
func ReadDocument(ctx context.Context, name, kind string, o Options) (string, *attest.Envelope, error) {
	want := kind
	if want == "" {
		want = "link or layout"
	}
	if st, err := os.Stat(name); err == nil {
		if st.IsDir() {
			return "", nil, fmt.Errorf("%s is a directory, not a %s file (for an OCI layout write %s%s@DIGEST)", name, want, LayoutPrefix, name)
		}
		env, err := attest.ReadEnvelopeFile(name, attest.DefaultMaxFileSize)
		if err != nil {
			return "", nil, err
		}
		if err := checkKind(env, kind); err != nil {
			return "", nil, fmt.Errorf("%s: %w", name, err)
		}
		return name, env, nil
	}
	if !strings.HasPrefix(name, LayoutPrefix) && !strings.Contains(name, "/") {
		return "", nil, fmt.Errorf("%s: no such file (nor an image reference: HOST/REPO@DIGEST)", name)
	}
	s, ref, desc, err := OpenResolved(ctx, name, o)
	if err != nil {
		return "", nil, err
	}
	m, err := FetchManifest(ctx, s, desc, o.maxManifest())
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", ref, err)
	}
	maxBlob := o.MaxBlobBytes
	if maxBlob <= 0 {
		maxBlob = DefaultMaxBlobBytes
	}
	other := ""
	for _, l := range m.Layers {
		data, err := FetchBlob(ctx, s, l, maxBlob)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", ref, err)
		}
		env, err := attest.ParseEnvelope(data)
		if err != nil {
			continue
		}
		if err := checkKind(env, kind); err != nil {
			if got, kerr := env.PayloadKind(); kerr == nil && (got == "link" || got == "layout") {
				other = got
			}
			continue
		}
		return ref.String(), env, nil
	}
	if m.Config.MediaType == "application/vnd.oci.image.config.v1+json" || m.Config.MediaType == "application/vnd.docker.container.image.v1+json" {
		return "", nil, fmt.Errorf("%s is an image, not a %s; its evidence hangs off it as referrers (referee discover %s shows their digests)", ref, want, ref)
	}
	if other != "" {
		return "", nil, fmt.Errorf("%s holds an in-toto %s, not a %s (referee %s show reads it)", ref, other, want, other)
	}
	return "", nil, fmt.Errorf("%s: no layer holds a signed in-toto %s", ref, want)
}

func checkKind(env *attest.Envelope, kind string) error {
	got, err := env.PayloadKind()
	if err != nil {
		return err
	}
	if got != "link" && got != "layout" {
		return fmt.Errorf("is a %q document, not an in-toto link or layout", got)
	}
	if kind != "" && got != kind {
		return fmt.Errorf("is an in-toto %s, not a %s", got, kind)
	}
	return nil
}
