package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	jsonv1 "github.com/go-json-experiment/json/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// listingState is the outermost transport of the HTTP client of a
// repository Open returns. It passes requests on, and remembers which way
// the registry lists referrers, as answered to referee's own listings
// (listByAPI): oras-go remembers the same for its own, but does not say.
// It lives in the transport because the repository's client must stay an
// *auth.Client: oras-go makes a manifest's body readable again (for an
// auth challenge, a retry) only for that type.
type listingState struct {
	http.RoundTripper
	referrers atomic.Int32 // apiUnknown, apiListed or apiMissing
}

var _ http.RoundTripper = (*listingState)(nil)

// listingStateOf returns the listing state of a repository Open made.
func listingStateOf(repo *remote.Repository) (*listingState, bool) {
	c, ok := repo.Client.(*auth.Client)
	if !ok || c.Client == nil {
		return nil, false
	}
	st, ok := c.Client.Transport.(*listingState)
	return st, ok
}

const (
	apiUnknown int32 = iota
	apiListed        // the registry answered the referrers API
	apiMissing       // it has only the referrers tag schema
)

// listingPageErrorBytes bounds what is read of an error response, as
// oras-go does (a typical one is 200 bytes).
const listingPageErrorBytes = 8 << 10

// errPageTooLarge is a page of a referrers listing over MaxMetadataBytes.
var errPageTooLarge = errors.New("referrers listing page over the size limit")

// listByAPI lists subject's referrers the way oras-go's
// Repository.Referrers does (the referrers API, page after page, and the
// tag schema where the registry has no API), sending the same requests,
// but it decodes the pages itself. It exists for speed: a page carries
// the envelopes of small documents in its annotations (1.1 MB for 500
// links), and encoding/json, which oras-go decodes it with, takes 10 ms
// of one core for that, before anything else can start; the same
// decoding with json/v1 of github.com/go-json-experiment/json (the
// mirror of Go's encoding/json/v2, which keeps encoding/json's
// semantics) takes 3.5 ms. TestListingDecodesAsEncodingJSON checks the
// two agree. The tag schema, a filter by artifact type (which no caller
// asks for) and a first page that says the registry has no API are left
// to oras-go. Unlike oras-go, a later page that says so is an error, not
// a switch to the tag schema in the middle of a listing.
//
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
func (st *listingState) listByAPI(ctx context.Context, repo *remote.Repository, subject ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	state := st.referrers.Load()
	if state == apiMissing || artifactType != "" {
		return repo.Referrers(ctx, subject, artifactType, fn)
	}
	ref := repo.Reference
	ref.Reference = subject.Digest.String()
	ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionPull)
	scheme := "https"
	if repo.PlainHTTP {
		scheme = "http"
	}
	next := fmt.Sprintf("%s://%s/v2/%s/referrers/%s", scheme, ref.Host(), ref.Repository, ref.Reference)
	for page := 0; next != ""; page++ {
		if repo.ReferrerListMaxPages > 0 && page >= repo.ReferrerListMaxPages {
			return fmt.Errorf("referrer listing exceeded %d pages: %w", repo.ReferrerListMaxPages, errdef.ErrTooManyPages)
		}
		var err error
		if next, err = listingPage(ctx, repo, next, fn); err == nil {
			continue
		}
		if page == 0 && state == apiUnknown && errors.Is(err, errdef.ErrUnsupported) {
			// As oras-go does: no referrers API, so the tag schema, from
			// now on.
			st.learn(repo, apiMissing)
			return repo.Referrers(ctx, subject, artifactType, fn)
		}
		return err
	}
	st.learn(repo, apiListed)
	return nil
}

// learn records how the registry lists referrers, here and for oras-go,
// as oras-go does: the first answer decides, for this repository.
func (st *listingState) learn(repo *remote.Repository, state int32) {
	if st.referrers.CompareAndSwap(apiUnknown, state) {
		_ = repo.SetReferrersCapability(state == apiListed) // oras-go may know already: it keeps its first answer too
	}
}

// listingPage reads one page of a referrers listing at u, hands its
// entries to fn and returns the URL of the next page ("" after the last).
// An answer that says the registry has no referrers API wraps
// errdef.ErrUnsupported.
func listingPage(ctx context.Context, repo *remote.Repository, u string, fn func([]ocispec.Descriptor) error) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	if repo.ReferrerListPageSize > 0 {
		q := req.URL.Query()
		q.Set("n", strconv.Itoa(repo.ReferrerListPageSize))
		req.URL.RawQuery = q.Encode()
	}
	resp, err := repo.Client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		if e := errorResponse(resp); hasErrorCode(e, errcode.ErrorCodeNameUnknown) {
			return "", e // no such repository: says nothing of the API
		}
		return "", fmt.Errorf("failed to query referrers API: %w", errdef.ErrUnsupported)
	default:
		return "", errorResponse(resp)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ocispec.MediaTypeImageIndex {
		return "", fmt.Errorf("unknown content returned (%s), expecting image index: %w", ct, errdef.ErrUnsupported)
	}
	limit := repo.MaxMetadataBytes
	if limit <= 0 {
		limit = DefaultMaxManifestBytes
	}
	index, err := readPage(resp.Body, limit, resp.ContentLength)
	if err != nil {
		return "", fmt.Errorf("%s %q: failed to decode response: %w", req.Method, req.URL, err)
	}
	if len(index.Manifests) > 0 {
		if err := fn(index.Manifests); err != nil {
			return "", err
		}
	}
	return nextPage(resp)
}

// decodeListing decodes a page of a referrers listing as oras-go does,
// with encoding/json's Decoder: its first JSON value, whatever follows
// (see listByAPI). Unmarshal, which is faster, comes first; it refuses
// what follows the value, which the Decoder then ignores.
func decodeListing(data []byte) (ocispec.Index, error) {
	var index ocispec.Index
	if jsonv1.Unmarshal(data, &index) == nil {
		return index, nil
	}
	index = ocispec.Index{}
	err := jsonv1.NewDecoder(bytes.NewReader(data)).Decode(&index)
	return index, err
}

// readPage reads a page of at most limit bytes, as oras-go reads one: a
// page whose index ends within limit bytes is read, whatever follows; a
// longer one is errPageTooLarge. It reads in one buffer when the length
// is known.
func readPage(r io.Reader, limit, length int64) (ocispec.Index, error) {
	var buf bytes.Buffer
	if length > 0 && length <= limit {
		buf.Grow(int(length) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return ocispec.Index{}, err
	}
	index, err := decodeListing(buf.Bytes()[:min(n, limit)])
	if err != nil && n > limit {
		return ocispec.Index{}, errPageTooLarge
	}
	return index, err
}

// nextPage is the URL in resp's Link header ("" if none), which must be
// on the registry the page came from, so that a registry cannot turn a
// listing into requests elsewhere (as oras-go checks too).
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
func nextPage(resp *http.Response) (string, error) {
	link := resp.Header.Get("Link")
	if link == "" {
		return "", nil
	}
	end := strings.IndexByte(link, '>')
	if link[0] != '<' || end < 0 {
		return "", fmt.Errorf("invalid next link %q", link)
	}
	next, err := resp.Request.URL.Parse(link[1:end])
	if err != nil {
		return "", fmt.Errorf("invalid next link %q: %w", link, err)
	}
	if !sameOrigin(resp.Request.URL, next) {
		return "", fmt.Errorf("invalid next link %q: not the same origin as %q", link, resp.Request.URL)
	}
	return next.String(), nil
}

// sameOrigin reports whether a and b have the same scheme, host and port
// (the scheme's default port where none is given).
func sameOrigin(a, b *url.URL) bool {
	hostPort := func(u *url.URL) string {
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
		}
		return strings.ToLower(u.Hostname()) + ":" + port
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && hostPort(a) == hostPort(b)
}

// errorResponse is the registry's error answer, as oras-go reports it.
func errorResponse(resp *http.Response) error {
	e := &errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: resp.StatusCode}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, listingPageErrorBytes)).Decode(&body) == nil {
		e.Errors = body.Errors
	}
	return e
}
