package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Store is a place that holds manifests, blobs and referrers: a registry
// repository or an OCI image-layout directory. It is oras-go's GraphTarget
// (fetch, push, exists, resolve, tag, predecessors); registries also list
// referrers through the OCI 1.1 API or the tag-schema fallback, which
// ListReferrers finds by type assertion.
type Store interface {
	oras.GraphTarget
}

var (
	_ Store                   = (*remote.Repository)(nil)
	_ Store                   = (*oci.Store)(nil)
	_ registry.ReferrerLister = (*remote.Repository)(nil)
)

// Default limits on what referee reads from a store.
const (
	DefaultMaxManifestBytes = 4 << 20
	DefaultMaxBlobBytes     = 16 << 20
)

// DefaultRequestTimeout bounds each step of one registry request (dialling,
// the TLS handshake, waiting for the response headers, waiting for each
// read of a response body) when Options.Timeout is zero. A whole body is
// not bounded: a large blob may take longer, as long as data keeps coming.
const DefaultRequestTimeout = 30 * time.Second

// DefaultMaxReferrerPages bounds the pages of one referrers listing, empty
// pages included, when Options.MaxReferrerPages is zero: a registry that
// answers every page with a link to another is refused after that many.
// It allows DefaultMaxReferrers referrers in pages of 10.
const DefaultMaxReferrerPages = 1000

// Options controls how stores are reached and what they may send.
type Options struct {
	// PlainHTTP allows HTTP to a registry that is not on a loopback
	// address (loopback registries may always use it).
	PlainHTTP bool
	// CAFile is a PEM bundle of extra certificate authorities.
	CAFile string
	// Keychain resolves credentials. When it is set, RegistryConfig is
	// not read (Login and Logout still write there).
	Keychain authn.Keychain
	// RegistryConfig is a docker config.json to read credentials from,
	// and the one Login writes and Logout edits. Empty means docker's
	// default ($DOCKER_CONFIG/config.json or ~/.docker/config.json) with
	// its credsStore and credential helpers, read as docker does (see
	// Options.credential for which library reads what).
	RegistryConfig string
	// Timeout bounds dialling a registry, the TLS handshake, the wait
	// for each response's headers and each wait for response body data;
	// zero means DefaultRequestTimeout. A request that times out is not
	// retried, and fails with a *TimeoutError. It does not bound a whole
	// body, so that long blob copies are not cut while data comes:
	// WithDeadline bounds a whole operation.
	Timeout time.Duration
	// MaxReferrerPages bounds the pages of one referrers listing (empty
	// ones too); zero means DefaultMaxReferrerPages.
	MaxReferrerPages int
	// MaxManifestBytes and MaxBlobBytes refuse larger manifests and
	// envelope blobs; zero means the defaults.
	MaxManifestBytes, MaxBlobBytes int64
	// HTTPClient overrides the HTTP client (tests use it to inject faults);
	// retries are added around it. Timeout and CAFile do not apply to it.
	HTTPClient *http.Client
}

func (o Options) maxManifest() int64 {
	if o.MaxManifestBytes > 0 {
		return o.MaxManifestBytes
	}
	return DefaultMaxManifestBytes
}

// Open returns the store ref names. An OCI layout directory is created if
// it does not exist.
func Open(ctx context.Context, ref Reference, o Options) (Store, error) {
	if ref.IsLayout() {
		s, err := oci.NewWithContext(ctx, ref.Layout)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", ref.Name(), err)
		}
		return s, nil
	}
	repo, err := remote.NewRepository(ref.Registry + "/" + ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", ref.Name(), err)
	}
	// Loopback registries speak plain HTTP, as crane assumes, unless a CA
	// file says this one has TLS.
	repo.PlainHTTP = o.PlainHTTP || (isLoopback(ref.Registry) && o.CAFile == "")
	repo.MaxMetadataBytes = o.maxManifest()
	// Never delete a superseded referrers index: with two writers, one
	// could delete the index the other just wrote. Old indexes are left
	// for the registry's garbage collection.
	repo.SkipReferrersGC = true
	repo.ReferrerListMaxPages = o.MaxReferrerPages
	if repo.ReferrerListMaxPages <= 0 {
		repo.ReferrerListMaxPages = DefaultMaxReferrerPages
	}
	client, err := o.authClient(ref)
	if err != nil {
		return nil, err
	}
	client.Client.Transport = &listingState{RoundTripper: client.Client.Transport}
	repo.Client = client
	return repo, nil
}

// authClient builds an oras auth client whose credentials come from
// Options.credential and whose transport retries, with backoff, what is
// safe to send again (see retryTransport: idempotent requests on 5xx, 429
// with Retry-After and cut connections; never a referrers index write,
// never a request that timed out), and gives up on a registry that does
// not answer within Options.Timeout.
func (o Options) authClient(ref Reference) (*auth.Client, error) {
	credential, err := o.credential()
	if err != nil {
		return nil, err
	}
	return o.authClientWith(credential)
}

// authClientWith is authClient with the credentials credential gives.
func (o Options) authClientWith(credential auth.CredentialFunc) (*auth.Client, error) {
	base := o.HTTPClient
	if base == nil {
		tr, err := o.transport()
		if err != nil {
			return nil, err
		}
		base = &http.Client{Transport: &timeoutTransport{next: tr, timeout: o.requestTimeout()}}
	}
	transport := base.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &auth.Client{
		Client:     &http.Client{Transport: &retryTransport{next: transport}, Timeout: base.Timeout},
		Cache:      auth.NewCache(),
		Credential: credential,
	}, nil
}

// transport is http.DefaultTransport with the CA file's authorities and
// the request timeouts (timeoutTransport adds body reads and names what
// timed out). http.Client.Timeout is left unset: it would bound whole
// blob copies too.
func (o Options) transport() (*http.Transport, error) {
	timeout := o.requestTimeout()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = timeout
	tr.ResponseHeaderTimeout = timeout
	// Keep as many connections as referee makes at once (DefaultParallel),
	// instead of 2, so that a wide referrer graph does not open a new
	// connection for most requests.
	tr.MaxIdleConnsPerHost = DefaultParallel
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificates in it", o.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return tr, nil
}

func (o Options) requestTimeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultRequestTimeout
}

// Resolve resolves ref to a descriptor once: a reference that is already a
// digest is fetched by digest (never re-resolved through a tag).
func Resolve(ctx context.Context, s Store, ref Reference) (ocispec.Descriptor, error) {
	target := ref.Tag
	if ref.Digest != "" {
		target = ref.Digest.String()
	}
	desc, err := s.Resolve(ctx, target)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("resolving %s: %w", ref, bareTimeout(err))
	}
	if ref.Digest != "" && desc.Digest != ref.Digest {
		return ocispec.Descriptor{}, fmt.Errorf("resolving %s: the store answered with %s", ref, desc.Digest)
	}
	return desc, nil
}

// OpenResolved opens the store of a reference string and resolves it:
// the entry point of every command that takes an image. Unlike Open, it
// does not create an OCI layout directory that does not exist.
func OpenResolved(ctx context.Context, ref string, o Options) (Store, Reference, ocispec.Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, Reference{}, ocispec.Descriptor{}, err
	}
	if r.IsLayout() {
		// Reading must not create an empty layout where none is.
		if _, err := os.Stat(filepath.Join(r.Layout, "index.json")); err != nil {
			return nil, Reference{}, ocispec.Descriptor{}, fmt.Errorf("%s: no OCI image layout there (%w)", r.Name(), errors.Unwrap(err))
		}
	}
	s, err := Open(ctx, r, o)
	if err != nil {
		return nil, Reference{}, ocispec.Descriptor{}, err
	}
	desc, err := Resolve(ctx, s, r)
	if err != nil {
		return nil, Reference{}, ocispec.Descriptor{}, err
	}
	return s, r.WithDigest(desc.Digest), desc, nil
}

// fetchAll fetches desc and checks it against its digest and size, refusing
// anything larger than limit before reading it.
func fetchAll(ctx context.Context, s content.Fetcher, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, &tooLargeError{desc, limit}
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("%s has a negative size", desc.Digest)
	}
	rc, err := s.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", desc.Digest, bareTimeout(err))
	}
	defer rc.Close()
	data, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", desc.Digest, bareTimeout(err))
	}
	return data, nil
}

// FetchBlob fetches a blob, checked against its descriptor's digest and
// size and refused above limit.
func FetchBlob(ctx context.Context, s content.Fetcher, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	return fetchAll(ctx, s, desc, limit)
}

// tooLargeError refuses content larger than a limit without fetching it.
type tooLargeError struct {
	desc  ocispec.Descriptor
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, more than the %d allowed", e.desc.Digest, e.desc.Size, e.limit)
}
