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

// repoClient is the HTTP client of a repository Open returns. It sends
// requests as the client it wraps, and remembers which way the registry
// lists referrers, as answered to referee's own listings (listByAPI):
// oras-go remembers the same for its own, but does not say.
type repoClient struct {
	remote.Client
	referrers atomic.Int32 // apiUnknown, apiListed or apiMissing
}

var _ remote.Client = (*repoClient)(nil)

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
// two agree. The tag schema, a filter by artifact type and anything
// unexpected on the first page are left to oras-go.
//
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
func (c *repoClient) listByAPI(ctx context.Context, repo *remote.Repository, subject ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	state := c.referrers.Load()
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
		if next, err = c.listingPage(ctx, repo, next, fn); err == nil {
			continue
		}
		if page == 0 && state == apiUnknown && errors.Is(err, errdef.ErrUnsupported) {
			// As oras-go does: no referrers API, so the tag schema, from
			// now on.
			c.referrers.Store(apiMissing)
			_ = repo.SetReferrersCapability(false)
			return repo.Referrers(ctx, subject, artifactType, fn)
		}
		return err
	}
	c.referrers.Store(apiListed)
	_ = repo.SetReferrersCapability(true)
	return nil
}

// listingPage reads one page of a referrers listing at u, hands its
// entries to fn and returns the URL of the next page ("" after the last).
// An answer that says the registry has no referrers API wraps
// errdef.ErrUnsupported.
func (c *repoClient) listingPage(ctx context.Context, repo *remote.Repository, u string, fn func([]ocispec.Descriptor) error) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	if repo.ReferrerListPageSize > 0 {
		q := req.URL.Query()
		q.Set("n", strconv.Itoa(repo.ReferrerListPageSize))
		req.URL.RawQuery = q.Encode()
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		if e := errorResponse(resp); hasCode(e, errcode.ErrorCodeNameUnknown) {
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
	data, err := readUpTo(resp.Body, limit, resp.ContentLength)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", req.Method, req.URL, err)
	}
	index, err := decodeListing(data)
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

// decodeListing decodes a page of a referrers listing as encoding/json
// would (see listByAPI).
func decodeListing(data []byte) (ocispec.Index, error) {
	var index ocispec.Index
	err := jsonv1.Unmarshal(data, &index)
	return index, err
}

// readUpTo reads r to its end, at most limit bytes (more is
// errPageTooLarge), in one buffer when the length is known.
func readUpTo(r io.Reader, limit, length int64) ([]byte, error) {
	var buf bytes.Buffer
	if length > 0 && length <= limit {
		buf.Grow(int(length) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	switch {
	case err != nil:
		return nil, err
	case n > limit:
		return nil, errPageTooLarge
	}
	return buf.Bytes(), nil
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

// hasCode reports whether err is a registry error with code.
func hasCode(err error, code string) bool {
	var ec errcode.Error
	return errors.As(err, &ec) && ec.Code == code
}
