package registry

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// specFixes corrects two places where go-containerregistry's registry
// departs from distribution-spec v1.1 when it serves the referrers API:
//   - the referrers list reports each referrer's config media type as its
//     artifactType (and no annotations) instead of the manifest's own
//     artifactType and annotations, and ignores ?artifactType=;
//   - a manifest PUT with a subject gets no OCI-Subject header, so clients
//     also write the tag-schema fallback index.
//
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests-with-subject
type specFixes struct {
	inner http.Handler
}

const ociIndex = "application/vnd.oci.image.index.v1+json"

var referrersPath = regexp.MustCompile(`^/v2/(.+)/referrers/([a-z0-9]+:[a-f0-9]+)$`)

func (f *specFixes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := referrersPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		f.referrers(w, r, m[1])
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

// referrers serves the referrers list with each entry's artifactType and
// annotations read from the referrer's own manifest, filtered by
// ?artifactType= when asked.
func (f *specFixes) referrers(w http.ResponseWriter, r *http.Request, repo string) {
	rec := httptest.NewRecorder()
	f.inner.ServeHTTP(rec, r)
	var index struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}
	empty := false
	switch {
	case rec.Code == http.StatusNotFound && strings.Contains(errorText(rec.Body.Bytes()), ": NAME_UNKNOWN:"):
		// A repository with no manifests has no referrers: the spec's
		// answer is an empty index, not 404.
		index.SchemaVersion, index.MediaType = 2, ociIndex
		empty = true
	case rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &index) != nil:
		copyResponse(w, rec)
		return
	}
	want := r.URL.Query().Get("artifactType")
	kept := index.Manifests[:0]
	// go-containerregistry stores a manifest pushed by another digest
	// (sha512) under its sha256 digest too, and lists it twice; the
	// digest the client used is the one to keep.
	twins := map[string]bool{}
	for _, d := range index.Manifests {
		get := httptest.NewRequest(http.MethodGet, "/v2/"+repo+"/manifests/"+d.Digest, nil)
		get.Header.Set("Accept", d.MediaType)
		mrec := httptest.NewRecorder()
		f.inner.ServeHTTP(mrec, get)
		var m struct {
			ArtifactType string            `json:"artifactType"`
			Config       *descriptor       `json:"config"`
			Annotations  map[string]string `json:"annotations"`
		}
		if mrec.Code == http.StatusOK && !strings.HasPrefix(d.Digest, "sha256:") {
			h, _, _ := v1.SHA256(bytes.NewReader(mrec.Body.Bytes()))
			twins[h.String()] = true
		}
		if mrec.Code == http.StatusOK && json.Unmarshal(mrec.Body.Bytes(), &m) == nil {
			d.ArtifactType = m.ArtifactType
			if d.ArtifactType == "" && m.Config != nil {
				d.ArtifactType = m.Config.MediaType
			}
			d.Annotations = m.Annotations
		}
		if want == "" || d.ArtifactType == want {
			kept = append(kept, d)
		}
	}
	index.Manifests = kept[:0]
	for _, d := range kept {
		if !twins[d.Digest] {
			index.Manifests = append(index.Manifests, d)
		}
	}
	if index.Manifests == nil {
		index.Manifests = []descriptor{}
	}
	body, err := json.Marshal(index)
	if err != nil {
		copyResponse(w, rec)
		return
	}
	if !empty {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
	}
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
