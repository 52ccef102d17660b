package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// referrersIndex holds, for each repository, the descriptors of the
// manifests that have a subject, by subject digest, so that listing the
// referrers of a digest costs what that digest has, not what the
// repository holds (go-containerregistry's registry decodes every manifest
// of the repository for each listing).
//
// It mirrors go-containerregistry's manifest store: a manifest PUT stores
// the manifest under the sha256 digest of its content and under its
// reference (a tag, or the digest the client used, such as a sha512 one);
// a DELETE removes one reference. Only digest references are listed.
// journaled keeps it up to date on every manifest write that succeeds, and
// on the journal's replay.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
type referrersIndex struct {
	mu    sync.RWMutex
	repos map[string]*repoReferrers
}

// repoReferrers is one repository's part of the index.
type repoReferrers struct {
	byKey     map[string]*referrer            // digest reference -> its manifest, if it has a subject
	bySubject map[string]map[string]*referrer // subject digest -> digest reference -> its manifest
}

// referrer is a manifest with a subject, stored under a digest reference.
type referrer struct {
	subject string
	// digest and artifactType are those of its entry in a listing, whose
	// JSON, as encoding/json writes the entry (a descriptor), is entry:
	// written once, when the manifest is stored, not for every listing.
	digest, artifactType string
	entry                []byte
	// twin is, for a reference that is not a sha256 digest, the sha256
	// digest of the same content, under which it is also stored: the
	// listing shows the digest the client used, not both.
	twin string
}

func newReferrersIndex() *referrersIndex {
	return &referrersIndex{repos: map[string]*repoReferrers{}}
}

// apply records a manifest write that the registry applied.
func (x *referrersIndex) apply(e entry) {
	switch e.Method {
	case http.MethodPut:
		x.put(e.Repo, e.Reference, e.ContentType, e.Body)
	case http.MethodDelete:
		x.mu.Lock()
		x.set(e.Repo, e.Reference, nil)
		x.mu.Unlock()
	}
}

// put records the manifest body, of media type contentType, stored under
// ref and under its sha256 digest.
func (x *referrersIndex) put(repo, ref, contentType string, body []byte) {
	h, _, _ := v1.SHA256(bytes.NewReader(body))
	sha := h.String()
	keys := []string{sha}
	if _, err := v1.NewHash(ref); err == nil && ref != sha {
		keys = append(keys, ref)
	}
	recs := make([]*referrer, len(keys))
	for i, k := range keys {
		recs[i] = describeReferrer(k, contentType, body)
		if recs[i] != nil && i > 0 {
			recs[i].twin = sha
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, k := range keys {
		x.set(repo, k, recs[i])
	}
}

// set makes rec (nil: nothing) what the digest reference key of repo
// holds. The caller holds x.mu for writing.
func (x *referrersIndex) set(repo, key string, rec *referrer) {
	rr := x.repos[repo]
	if rr == nil {
		if rec == nil {
			return
		}
		rr = &repoReferrers{byKey: map[string]*referrer{}, bySubject: map[string]map[string]*referrer{}}
		x.repos[repo] = rr
	}
	if old := rr.byKey[key]; old != nil {
		delete(rr.byKey, key)
		if s := rr.bySubject[old.subject]; s != nil {
			delete(s, key)
			if len(s) == 0 {
				delete(rr.bySubject, old.subject)
			}
		}
	}
	if rec == nil {
		return
	}
	rr.byKey[key] = rec
	s := rr.bySubject[rec.subject]
	if s == nil {
		s = map[string]*referrer{}
		rr.bySubject[rec.subject] = s
	}
	s[key] = rec
}

// list returns the referrers of subject in repo, of artifactType if it
// is not empty, sorted by digest. A manifest stored under a digest other
// than sha256 is listed under that digest only.
func (x *referrersIndex) list(repo, subject, artifactType string) []*referrer {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := []*referrer{}
	rr := x.repos[repo]
	if rr == nil {
		return out
	}
	s := rr.bySubject[subject]
	twins := map[string]bool{}
	for _, rec := range s {
		if rec.twin != "" {
			twins[rec.twin] = true
		}
	}
	for key, rec := range s {
		if !twins[key] && (artifactType == "" || rec.artifactType == artifactType) {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].digest < out[j].digest })
	return out
}

// listingHead is what a listing holds before its entries, as
// encoding/json writes it (ociIndex has nothing it would escape).
const listingHead = `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[`

// listing is the body of the referrers listing of refs: the image index
// encoding/json writes for them (TestListingAsEncodingJSONWrites), of the
// entries written when their manifests were stored. A listing of 500
// referrers that carry their envelopes (1.1 MB) was encoded in about 7 ms
// of CPU per request; now it is copied.
func listing(refs []*referrer) []byte {
	n := len(listingHead) + len("]}")
	for _, r := range refs {
		n += len(r.entry) + 1
	}
	body := append(make([]byte, 0, n), listingHead...)
	for i, r := range refs {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, r.entry...)
	}
	return append(body, "]}"...)
}

// describeReferrer returns the referrers-list entry of a manifest stored
// under the digest reference key, or nil if it has no subject: its media
// type, digest and size; its artifactType, or when it has none its config's
// media type; and its annotations.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
func describeReferrer(key, contentType string, body []byte) *referrer {
	var all struct {
		Subject *v1.Descriptor `json:"subject"`
		entryFields
	}
	if json.Unmarshal(body, &all) == nil {
		return newReferrer(key, contentType, body, all.Subject, all.entryFields)
	}
	// A field not of the spec's type: each part read on its own, as
	// before the index (a subject go-containerregistry cannot parse
	// matches no listing).
	var ptr struct {
		Subject *v1.Descriptor `json:"subject"`
	}
	json.Unmarshal(body, &ptr)
	var e entryFields
	if json.Unmarshal(body, &e) != nil {
		// What go-containerregistry's registry lists.
		var g struct {
			Config struct {
				MediaType string `json:"mediaType"`
			} `json:"config"`
			Annotations map[string]string `json:"annotations"`
		}
		json.Unmarshal(body, &g)
		e = entryFields{ArtifactType: g.Config.MediaType, Annotations: g.Annotations}
	}
	return newReferrer(key, contentType, body, ptr.Subject, e)
}

// entryFields are the fields of a manifest that its referrers-list entry
// shows.
type entryFields struct {
	ArtifactType string            `json:"artifactType"`
	Config       *descriptor       `json:"config"`
	Annotations  map[string]string `json:"annotations"`
}

// newReferrer is the referrer of subject stored under key, or nil if
// there is no subject.
func newReferrer(key, contentType string, body []byte, subject *v1.Descriptor, e entryFields) *referrer {
	if subject == nil || subject.Digest.Algorithm == "" || !strings.Contains(key, ":") {
		return nil
	}
	d := descriptor{MediaType: contentType, Digest: key, Size: int64(len(body)), ArtifactType: e.ArtifactType, Annotations: e.Annotations}
	if d.ArtifactType == "" && e.Config != nil {
		d.ArtifactType = e.Config.MediaType
	}
	entry, err := json.Marshal(d)
	if err != nil {
		return nil // strings and a map of strings always encode
	}
	return &referrer{subject: subject.Digest.String(), digest: key, artifactType: d.ArtifactType, entry: entry}
}
