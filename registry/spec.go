package registry

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/referee-dev/referee/internal/lazyre"
)

// specFixes corrects two places where go-containerregistry's registry
// departs from distribution-spec v1.1 when it serves the referrers API:
//   - the referrers list reports each referrer's config media type as its
//     artifactType (and no annotations) instead of the manifest's own
//     artifactType and annotations, ignores ?artifactType=, and costs a
//     decoding of every manifest in the repository: it is served from a
//     referrersIndex instead;
//   - a manifest PUT with a subject gets no OCI-Subject header, so clients
//     also write the tag-schema fallback index.
//
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests-with-subject
type specFixes struct {
	inner http.Handler
	index *referrersIndex // the referrers of every manifest written through inner
}

const ociIndex = "application/vnd.oci.image.index.v1+json"

var referrersPath = lazyre.New(`^/v2/(.+)/referrers/([a-z0-9]+:[a-f0-9]+)$`)

func (f *specFixes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := referrersPath().FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		f.referrers(w, r, m[1], m[2])
		return
	}
	if _, _, ok := manifestPath(r.URL.Path); ok && r.Method == http.MethodPut {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxManifestSize+1))
		if err != nil {
			http.Error(w, "reading manifest: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var m struct {
			Subject *struct {
				Digest string `json:"digest"`
			} `json:"subject"`
		}
		if json.Unmarshal(body, &m) == nil && m.Subject != nil && m.Subject.Digest != "" {
			w = &subjectHeader{ResponseWriter: w, subject: m.Subject.Digest}
		}
	}
	f.inner.ServeHTTP(w, r)
}

// subjectHeader adds OCI-Subject to a successful manifest PUT.
type subjectHeader struct {
	http.ResponseWriter
	subject string
}

func (s *subjectHeader) WriteHeader(code int) {
	if code/100 == 2 {
		s.Header().Set("OCI-Subject", s.subject)
	}
	s.ResponseWriter.WriteHeader(code)
}

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// referrers serves the referrers list of target from the index: each
// entry's artifactType and annotations as its own manifest has them,
// filtered by ?artifactType= when asked.
func (f *specFixes) referrers(w http.ResponseWriter, r *http.Request, repo, target string) {
	if _, err := v1.NewHash(target); err != nil {
		// go-containerregistry's answer: 400 UNSUPPORTED.
		f.inner.ServeHTTP(w, r)
		return
	}
	want := r.URL.Query().Get("artifactType")
	body := listing(f.index.list(repo, target, want))
	w.Header().Set("Content-Type", ociIndex)
	if want != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}
