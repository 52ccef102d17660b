package registry_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/referee-dev/referee/registry"
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// TestManifestPutChecked: a manifest PUT by digest is checked against its
// content for sha256 and sha512 alike; a reference that is no valid digest
// or tag is refused; a PUT that succeeds answers 201 with Location and
// Docker-Content-Digest naming the digest the client used, which GET and
// HEAD by that digest name too.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests
func TestManifestPutChecked(t *testing.T) {
	roots(t, func(t *testing.T, root string) {
		srv := start(t, registry.Options{Root: root})
		body := []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
		other := []byte(`{"schemaVersion":2}`)
		for _, tc := range []struct {
			name   string
			ref    string
			body   []byte
			status int
			code   string // error code, or the digest of Location and Docker-Content-Digest
		}{
			{"sha256 digest", sha256Of(body), body, 201, sha256Of(body)},
			{"sha512 digest", sha512Of(body), body, 201, sha512Of(body)},
			{"tag", "v1.0", body, 201, sha256Of(body)},
			{"sha512 mismatch", sha512Of(other), body, 400, "DIGEST_INVALID"},
			{"sha256 mismatch", sha256Of(other), body, 400, "DIGEST_INVALID"},
			{"unsupported algorithm", "sha384:" + strings.Repeat("ab", 48), body, 400, "DIGEST_INVALID"},
			{"malformed digest", "sha256:baddigeststring", body, 400, "DIGEST_INVALID"},
			{"sha512 digest, sha256 length", "sha512:" + sha256Of(body)[7:], body, 400, "DIGEST_INVALID"},
			{"invalid tag", "-v1", body, 400, "TAG_INVALID"},
			{"tag too long", strings.Repeat("t", 129), body, 400, "TAG_INVALID"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				url := srv.URL + "/v2/m/app/manifests/" + tc.ref
				resp, rb := call(t, http.MethodPut, url, tc.body, "Content-Type", ociManifest)
				if resp.StatusCode != tc.status {
					t.Fatalf("PUT: %s %s, want %d", resp.Status, rb, tc.status)
				}
				if tc.status != 201 {
					if got := errorCode(rb); got != tc.code {
						t.Errorf("PUT: error %q, want %s", got, tc.code)
					}
					if get, _ := call(t, http.MethodGet, url, nil); get.StatusCode == http.StatusOK {
						t.Errorf("refused, but GET %s answers 200", tc.ref)
					}
					return
				}
				if loc, want := resp.Header.Get("Location"), "/v2/m/app/manifests/"+tc.code; loc != want {
					t.Errorf("Location %q, want %s", loc, want)
				}
				if got := resp.Header.Get("Docker-Content-Digest"); got != tc.code {
					t.Errorf("Docker-Content-Digest %q, want %s", got, tc.code)
				}
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					get, gb := call(t, method, srv.URL+resp.Header.Get("Location"), nil, "Accept", ociManifest)
					if get.StatusCode != http.StatusOK || get.Header.Get("Docker-Content-Digest") != tc.code ||
						method == http.MethodGet && string(gb) != string(tc.body) {
						t.Errorf("%s Location: %s, Docker-Content-Digest %q; want 200, %s and the manifest", method, get.Status, get.Header.Get("Docker-Content-Digest"), tc.code)
					}
				}
			})
		}
	})
}

// TestTagList: tags only (no sha512 digests), sorted, paginated by n and
// last with a Link to the next page.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-tags
func TestTagList(t *testing.T) {
	srv := start(t, registry.Options{})
	body := []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `"}`)
	for _, ref := range []string{"c", "a", "d", "b", sha512Of(body)} {
		if resp, rb := call(t, http.MethodPut, srv.URL+"/v2/tl/manifests/"+ref, body, "Content-Type", ociManifest); resp.StatusCode != 201 {
			t.Fatalf("PUT %s: %s %s", ref, resp.Status, rb)
		}
	}
	for _, tc := range []struct {
		query string
		tags  []string
		link  string
	}{
		{"", []string{"a", "b", "c", "d"}, ""},
		{"?n=2", []string{"a", "b"}, `</v2/tl/tags/list?last=b&n=2>; rel="next"`},
		{"?n=2&last=b", []string{"c", "d"}, `</v2/tl/tags/list?last=d&n=2>; rel="next"`},
		{"?last=d", []string{}, ""},
		{"?last=0", []string{"a", "b", "c", "d"}, ""},
		{"?n=0", []string{}, ""},
		{"?n=9", []string{"a", "b", "c", "d"}, ""},
	} {
		resp, rb := call(t, http.MethodGet, srv.URL+"/v2/tl/tags/list"+tc.query, nil)
		var list struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(rb, &list); err != nil || resp.StatusCode != 200 {
			t.Fatalf("tags/list%s: %s %v %s", tc.query, resp.Status, err, rb)
		}
		if strings.Join(list.Tags, ",") != strings.Join(tc.tags, ",") || list.Name != "tl" {
			t.Errorf("tags/list%s: %s %q, want tl %q", tc.query, list.Name, list.Tags, tc.tags)
		}
		if got := resp.Header.Get("Link"); got != tc.link {
			t.Errorf("tags/list%s: Link %q, want %q", tc.query, got, tc.link)
		}
	}
	if resp, _ := call(t, http.MethodGet, srv.URL+"/v2/tl/tags/list?n=x", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("tags/list?n=x: %s, want 400", resp.Status)
	}
}

// TestReferrersUnknownRepository: the referrers of a digest in a
// repository that holds nothing are an empty index, not 404.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
func TestReferrersUnknownRepository(t *testing.T) {
	srv := start(t, registry.Options{})
	resp, body := call(t, http.MethodGet, srv.URL+"/v2/nothing/here/referrers/"+sha256Of([]byte("x")), nil)
	var idx struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(body, &idx); err != nil || resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" ||
		idx.SchemaVersion != 2 || idx.MediaType != "application/vnd.oci.image.index.v1+json" || idx.Manifests == nil || len(idx.Manifests) != 0 {
		t.Errorf("referrers in an empty repository: %s %q %v\n%s", resp.Status, resp.Header.Get("Content-Type"), err, body)
	}
}

// TestReferrersBySha512: a referrer pushed by its sha512 digest is listed
// once, under that digest.
func TestReferrersBySha512(t *testing.T) {
	roots(t, func(t *testing.T, root string) {
		srv := start(t, registry.Options{Root: root})
		subject := []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `"}`)
		if resp, rb := call(t, http.MethodPut, srv.URL+"/v2/rf/manifests/v1", subject, "Content-Type", ociManifest); resp.StatusCode != 201 {
			t.Fatalf("PUT subject: %s %s", resp.Status, rb)
		}
		ref := []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `","artifactType":"` + artifactType +
			`","subject":{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(subject) + `","size":` + strconv.Itoa(len(subject)) + `}}`)
		if resp, rb := call(t, http.MethodPut, srv.URL+"/v2/rf/manifests/"+sha512Of(ref), ref, "Content-Type", ociManifest); resp.StatusCode != 201 {
			t.Fatalf("PUT referrer: %s %s", resp.Status, rb)
		}
		resp, body := call(t, http.MethodGet, srv.URL+"/v2/rf/referrers/"+sha256Of(subject), nil)
		var idx struct {
			Manifests []struct {
				Digest       string `json:"digest"`
				ArtifactType string `json:"artifactType"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal(body, &idx); err != nil || resp.StatusCode != 200 {
			t.Fatalf("referrers: %s %v %s", resp.Status, err, body)
		}
		if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sha512Of(ref) || idx.Manifests[0].ArtifactType != artifactType {
			t.Errorf("referrers: %s, want one entry %s of type %s", body, sha512Of(ref), artifactType)
		}
	})
}
