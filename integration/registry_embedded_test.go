//go:build integration

package integration_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRegistryEmbeddedReferrersSpec: `referee registry serve` claims the
// OCI 1.1 referrers API; it is checked here against what distribution-spec
// v1.1.1 requires and what oras relies on, with a referrer pushed by oras
// (`oras attach --artifact-type application/vnd.in-toto+json`: empty config
// application/vnd.oci.empty.v1+json, artifactType set):
//
//   - GET /v2/<name>/referrers/<digest>: each descriptor's artifactType
//     "MUST be the artifactType of the manifest if present, else
//     config.mediaType" (spec, "Listing Referrers"); so oras discover must
//     show application/vnd.in-toto+json;
//   - PUT of a manifest with a subject: a registry that processes subjects
//     "MUST" answer with the OCI-Subject header ("Pushing Manifests with
//     Subject"); without it clients (oras, and referee through oras-go)
//     also write the referrers tag schema's sha256-<hex> tag, as on a
//     registry without the API;
//   - a filtered listing (?artifactType=) either is filtered and says so
//     (OCI-Filters-Applied: artifactType) or is the full list (allowed).
func TestRegistryEmbeddedReferrersSpec(t *testing.T) {
	needOras(t)
	host := startEmbeddedRegistry(t)
	ref, digest := pushImage(t, host, "spec/app")
	dir := t.TempDir()
	writeFile(t, dir+"/build.0123abcd.link", `{"signed":{},"signatures":[]}`)
	od := orasAttach(t, dir, ref, "build.0123abcd.link")

	// The referrers API, raw.
	resp, err := http.Get("http://" + host + "/v2/spec/app/referrers/" + digest)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var idx struct {
		Manifests []referrer `json:"manifests"`
	}
	if err := json.Unmarshal(body, &idx); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET referrers: %s %v\n%s", resp.Status, err, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ociIndex {
		t.Errorf("referrers Content-Type %q, want %s", ct, ociIndex)
	}
	expectTypes(t, "GET /v2/spec/app/referrers", types(t, "referrers API", idx.Manifests), map[string]string{od: inTotoJSON})
	expectTypes(t, "oras discover --distribution-spec v1.1-referrers-api",
		types(t, "oras", orasDiscover(t, atDigest(ref, digest), "--distribution-spec", "v1.1-referrers-api").Referrers),
		map[string]string{od: inTotoJSON})

	// Filtering: filtered and announced, or unfiltered.
	resp, err = http.Get("http://" + host + "/v2/spec/app/referrers/" + digest + "?artifactType=application/vnd.example.none")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	idx.Manifests = nil
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatalf("filtered referrers: %v\n%s", err, body)
	}
	filtered := strings.Contains(resp.Header.Get("OCI-Filters-Applied"), "artifactType")
	if filtered && len(idx.Manifests) != 0 || !filtered && len(idx.Manifests) != 1 {
		t.Errorf("?artifactType=none: %d entries, OCI-Filters-Applied %q", len(idx.Manifests), resp.Header.Get("OCI-Filters-Applied"))
	}

	// PUT the oras manifest again (same repository, by digest): the answer
	// must carry OCI-Subject.
	mr := must(t, "", needCrane(t), "manifest", "--insecure", atDigest(ref, od))
	req, _ := http.NewRequest(http.MethodPut, "http://"+host+"/v2/spec/app/manifests/"+od, strings.NewReader(mr.stdout))
	req.Header.Set("Content-Type", ociManifest)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest: %s", resp.Status)
	}
	if s := resp.Header.Get("OCI-Subject"); s != digest {
		t.Errorf("PUT of a manifest with subject %s: OCI-Subject header %q, want the subject digest (distribution-spec v1.1)", digest, s)
	}
}
