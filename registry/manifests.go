package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/referee-dev/referee/internal/lazyre"
)

// manifestFixes corrects where go-containerregistry's manifest and tag
// endpoints depart from distribution-spec v1.1:
//   - a manifest PUT by digest is checked against its content for every
//     algorithm the registry knows (sha256, sha512), not sha256 only, and a
//     reference that is neither a valid digest nor a valid tag is refused;
//   - a manifest PUT that succeeds answers with Location, and
//     Docker-Content-Digest names the digest the client used (not always
//     the sha256 one), as do GET and HEAD by digest;
//   - the tag list holds tags only (not sha512 digests) and honours ?last=
//     and ?n= as the spec says, with a Link header for the next page.
//
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-tags
type manifestFixes struct {
	inner http.Handler
}

// tagsPath matches /v2/<name>/tags/list.
var tagsPath = lazyre.New(`^/v2/(.+)/tags/list$`)

func (f *manifestFixes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := tagsPath().FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		f.tags(w, r, m[1])
		return
	}
	repo, ref, ok := manifestPath(r.URL.Path)
	if !ok {
		f.inner.ServeHTTP(w, r)
		return
	}
	isDigest := strings.Contains(ref, ":")
	switch r.Method {
	case http.MethodPut:
		f.put(w, r, repo, ref, isDigest)
	case http.MethodGet, http.MethodHead:
		if isDigest {
			w = &onSuccess{ResponseWriter: w, set: map[string]string{"Docker-Content-Digest": ref}}
		}
		f.inner.ServeHTTP(w, r)
	default:
		f.inner.ServeHTTP(w, r)
	}
}

// put checks a manifest PUT and adds Location and Docker-Content-Digest to
// its success.
func (f *manifestFixes) put(w http.ResponseWriter, r *http.Request, repo, ref string, isDigest bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxManifestSize))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, "MANIFEST_INVALID",
			fmt.Sprintf("manifest larger than %d bytes", MaxManifestSize))
		return
	} else if err != nil {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "reading manifest: "+err.Error())
		return
	}
	var dig v1.Hash
	if isDigest {
		// go-containerregistry stores a manifest under whatever digest
		// the URL names; the spec has the registry refuse a mismatch.
		h, err := v1.NewHash(ref)
		if err != nil {
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("digest %q: %v", ref, err))
			return
		}
		if err := verifying(h, io.Discard, bytes.NewReader(body)); err != nil {
			writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "manifest "+err.Error())
			return
		}
		dig = h
	} else {
		if (orasregistry.Reference{Reference: ref}).ValidateReferenceAsTag() != nil { // the spec's grammar
			writeError(w, http.StatusBadRequest, "TAG_INVALID", fmt.Sprintf("%q is not a valid tag", ref))
			return
		}
		dig, _, _ = v1.SHA256(bytes.NewReader(body))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	f.inner.ServeHTTP(&onSuccess{ResponseWriter: w, set: map[string]string{
		"Location":              "/v2/" + repo + "/manifests/" + dig.String(),
		"Docker-Content-Digest": dig.String(),
	}}, r)
}

// onSuccess sets headers on a 2xx answer.
type onSuccess struct {
	http.ResponseWriter
	set         map[string]string
	wroteHeader bool
}

func (o *onSuccess) WriteHeader(code int) {
	if !o.wroteHeader && code/100 == 2 {
		for k, v := range o.set {
			o.Header().Set(k, v)
		}
	}
	o.wroteHeader = true
	o.ResponseWriter.WriteHeader(code)
}

func (o *onSuccess) Write(b []byte) (int, error) {
	if !o.wroteHeader {
		o.WriteHeader(http.StatusOK)
	}
	return o.ResponseWriter.Write(b)
}

// tags serves the tag list, paginated as the spec says: sorted, the tags
// after ?last=, at most ?n= of them, and a Link to the next page when n cut
// the list short.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-tags
func (f *manifestFixes) tags(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	n := -1
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			writeError(w, http.StatusBadRequest, "UNSUPPORTED", fmt.Sprintf("n=%q is not a number of tags", s))
			return
		}
		n = v
	}
	all := httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/tags/list", nil)
	all = all.WithContext(r.Context())
	rec := httptest.NewRecorder()
	f.inner.ServeHTTP(rec, all)
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
		copyResponse(w, rec)
		return
	}
	tags := []string{}
	last := q.Get("last")
	for _, t := range list.Tags {
		// go-containerregistry lists every key but sha256 digests.
		if !strings.Contains(t, ":") && (last == "" || t > last) {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	if n >= 0 && n < len(tags) {
		tags = tags[:n]
	}
	if n > 0 && len(tags) == n {
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[len(tags)-1]}}
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, repo, next.Encode()))
	}
	list.Tags = tags
	body, _ := json.Marshal(list)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
