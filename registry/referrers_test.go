package registry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/referee-dev/referee/registry"
)

// referrerOf is an OCI manifest whose subject is the manifest subject: of
// artifactType typ (empty: none, so its config media type stands in),
// annotated with n.
func referrerOf(subject []byte, typ string, n int) []byte {
	at := ""
	if typ != "" {
		at = `"artifactType":"` + typ + `",`
	}
	return []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `",` + at +
		`"config":{"mediaType":"application/vnd.referee.config.test+json","digest":"` + sha256Of([]byte("config")) + `","size":6},` +
		`"layers":[],"annotations":{"n":"` + strconv.Itoa(n) + `"},` +
		`"subject":{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(subject) + `","size":` + strconv.Itoa(len(subject)) + `}}`)
}

// imageManifest is a small OCI image manifest, unique by n.
func imageManifest(n int) []byte {
	return []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		sha256Of([]byte("config")) + `","size":6},"layers":[],"annotations":{"image":"` + strconv.Itoa(n) + `"}}`)
}

// serveDirect sends one request to h in process and fails b on a status
// other than want (0: any).
func serveDirect(b testing.TB, h http.Handler, method, path string, body []byte, want int) *httptest.ResponseRecorder {
	b.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", ociManifest)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if want != 0 && rec.Code != want {
		b.Fatalf("%s %s: %d, want %d\n%s", method, path, rec.Code, want, rec.Body.Bytes())
	}
	return rec
}

// BenchmarkReferrersListing lists the 5 referrers of one image in a
// repository of 10, 1,000 and 10,000 manifests (images, each with 5
// referrers): the listing's time should not grow with the repository.
func BenchmarkReferrersListing(b *testing.B) {
	for _, total := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("manifests=%d", total), func(b *testing.B) {
			reg, err := registry.New(registry.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer reg.Close()
			var subject []byte
			for i := 0; i*6 < total; i++ {
				img := imageManifest(i)
				serveDirect(b, reg, http.MethodPut, "/v2/bench/app/manifests/"+sha256Of(img), img, http.StatusCreated)
				for k := 0; k < 5 && i*6+1+k < total; k++ {
					ref := referrerOf(img, artifactType, k)
					serveDirect(b, reg, http.MethodPut, "/v2/bench/app/manifests/"+sha256Of(ref), ref, http.StatusCreated)
				}
				if i == 0 {
					subject = img
				}
			}
			path := "/v2/bench/app/referrers/" + sha256Of(subject)
			if rec := serveDirect(b, reg, http.MethodGet, path, nil, http.StatusOK); rec.Body.Len() == 0 {
				b.Fatal("empty listing")
			}
			b.ResetTimer()
			for b.Loop() {
				serveDirect(b, reg, http.MethodGet, path, nil, http.StatusOK)
			}
		})
	}
}

// listed is one entry of a referrers list.
type listed struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
}

// listReferrers lists the referrers of subject in repo (query: "" or
// "?artifactType=..."), checking the answer's form, and returns the
// entries and the OCI-Filters-Applied header.
func listReferrers(t testing.TB, h http.Handler, repo string, subject []byte, query string) ([]listed, string) {
	t.Helper()
	rec := serveDirect(t, h, http.MethodGet, "/v2/"+repo+"/referrers/"+sha256Of(subject)+query, nil, http.StatusOK)
	var idx struct {
		SchemaVersion int      `json:"schemaVersion"`
		MediaType     string   `json:"mediaType"`
		Manifests     []listed `json:"manifests"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil || idx.SchemaVersion != 2 || idx.MediaType != ociIndex ||
		idx.Manifests == nil || rec.Header().Get("Content-Type") != ociIndex || rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("referrers%s: %v %v\n%s", query, err, rec.Header(), rec.Body.Bytes())
	}
	if !sort.SliceIsSorted(idx.Manifests, func(i, j int) bool { return idx.Manifests[i].Digest < idx.Manifests[j].Digest }) {
		t.Errorf("referrers%s not in digest order: %s", query, rec.Body.Bytes())
	}
	return idx.Manifests, rec.Header().Get("OCI-Filters-Applied")
}

// entryOf is the entry the referrers list should hold for body stored
// under digest.
func entryOf(digest string, body []byte, artifactType string, n int) listed {
	return listed{MediaType: ociManifest, Digest: digest, Size: int64(len(body)), ArtifactType: artifactType,
		Annotations: map[string]string{"n": strconv.Itoa(n)}}
}

func sortedEntries(e ...listed) []listed {
	sort.Slice(e, func(i, j int) bool { return e[i].Digest < e[j].Digest })
	return e
}

const ociIndex = "application/vnd.oci.image.index.v1+json"

// TestReferrersFollowWrites: the referrers list follows manifest PUTs and
// DELETEs (by digest, by sha512 digest, by tag), is filtered by
// ?artifactType=, and after a restart on the same root lists what it did
// before.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
func TestReferrersFollowWrites(t *testing.T) {
	roots(t, func(t *testing.T, root string) {
		reg, err := registry.New(registry.Options{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { reg.Close() }()
		put := func(ref string, body []byte) {
			t.Helper()
			serveDirect(t, reg, http.MethodPut, "/v2/demo/app/manifests/"+ref, body, http.StatusCreated)
		}
		del := func(ref string) {
			t.Helper()
			serveDirect(t, reg, http.MethodDelete, "/v2/demo/app/manifests/"+ref, nil, http.StatusAccepted)
		}
		img, other := imageManifest(0), imageManifest(1)
		put("v1", img)
		put("v2", other)
		const otherType = "application/vnd.referee.other+json"
		a := referrerOf(img, artifactType, 1)
		b := referrerOf(img, "", 2) // no artifactType: its config's media type
		c := referrerOf(img, otherType, 3)
		put(sha256Of(a), a)
		put("b", b) // a tag: listed under its sha256 digest
		put(sha512Of(c), c)
		put(sha256Of(referrerOf(other, artifactType, 4)), referrerOf(other, artifactType, 4))
		if got, _ := listReferrers(t, reg, "demo/other", img, ""); len(got) != 0 {
			t.Errorf("referrers in another repository: %+v", got)
		}

		want := sortedEntries(entryOf(sha256Of(a), a, artifactType, 1),
			entryOf(sha256Of(b), b, "application/vnd.referee.config.test+json", 2),
			entryOf(sha512Of(c), c, otherType, 3))
		check := func(when string, want []listed) {
			t.Helper()
			got, filters := listReferrers(t, reg, "demo/app", img, "")
			if !reflect.DeepEqual(got, want) || filters != "" {
				t.Errorf("%s: referrers = %+v (filters %q), want %+v", when, got, filters, want)
			}
			got, filters = listReferrers(t, reg, "demo/app", img, "?artifactType="+url.QueryEscape(otherType))
			var wantC []listed
			for _, e := range want {
				if e.ArtifactType == otherType {
					wantC = append(wantC, e)
				}
			}
			if len(got) != len(wantC) || len(got) > 0 && !reflect.DeepEqual(got, wantC) || filters != "artifactType" {
				t.Errorf("%s: referrers of type %s = %+v (filters %q), want %+v", when, otherType, got, filters, wantC)
			}
		}
		check("after the pushes", want)

		del("b") // the tag only: the manifest stays under its digest
		check("after deleting a tag", want)
		del(sha256Of(a))
		want = sortedEntries(want[0], want[1], want[2])
		want = slices.DeleteFunc(want, func(e listed) bool { return e.Digest == sha256Of(a) })
		check("after deleting a referrer", want)
		if root == "" {
			return
		}
		reg.Close()
		if reg, err = registry.New(registry.Options{Root: root}); err != nil {
			t.Fatal(err)
		}
		check("after a restart", want)
		put(sha256Of(a), a)
		check("after pushing again", sortedEntries(append(want, entryOf(sha256Of(a), a, artifactType, 1))...))
	})
}

// TestReferrersConcurrentWrites: listings while referrers are pushed and
// deleted each see a consistent list, and the last one sees every push.
func TestReferrersConcurrentWrites(t *testing.T) {
	reg, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	img := imageManifest(0)
	serveDirect(t, reg, http.MethodPut, "/v2/demo/app/manifests/v1", img, http.StatusCreated)
	const pushers, each = 4, 25
	var wg sync.WaitGroup
	done := make(chan struct{})
	for p := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ref := referrerOf(img, artifactType, p*each+i)
				serveDirect(t, reg, http.MethodPut, "/v2/demo/app/manifests/"+sha256Of(ref), ref, http.StatusCreated)
				// One more, deleted again.
				gone := referrerOf(img, "gone", p*each+i)
				serveDirect(t, reg, http.MethodPut, "/v2/demo/app/manifests/"+sha256Of(gone), gone, http.StatusCreated)
				serveDirect(t, reg, http.MethodDelete, "/v2/demo/app/manifests/"+sha256Of(gone), nil, http.StatusAccepted)
			}
		}()
	}
	var listers sync.WaitGroup
	for range 2 {
		listers.Add(1)
		go func() {
			defer listers.Done()
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				got, _ := listReferrers(t, reg, "demo/app", img, "?artifactType="+url.QueryEscape(artifactType))
				if len(got) < last {
					t.Errorf("a listing shows %d referrers after one showed %d", len(got), last)
					return
				}
				last = len(got)
			}
		}()
	}
	wg.Wait()
	close(done)
	listers.Wait()
	if got, _ := listReferrers(t, reg, "demo/app", img, ""); len(got) != pushers*each {
		t.Errorf("after the pushes: %d referrers, want %d", len(got), pushers*each)
	}
}

// TestManifestWritesOutsideV2: a manifest path outside /v2/ is refused,
// not stored beside the journal and the referrers index.
func TestManifestWritesOutsideV2(t *testing.T) {
	reg, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	img := imageManifest(0)
	ref := referrerOf(img, artifactType, 1)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, "/x/demo/manifests/" + sha256Of(ref)},
		{http.MethodPut, "/v2x/demo/manifests/v1"},
		{http.MethodDelete, "/x/demo/manifests/" + sha256Of(ref)},
		{http.MethodGet, "/x/demo/manifests/" + sha256Of(ref)},
	} {
		var body []byte
		if tc.method == http.MethodPut {
			body = ref
		}
		serveDirect(t, reg, tc.method, tc.path, body, http.StatusNotFound)
	}
	serveDirect(t, reg, http.MethodGet, "/v2/demo/manifests/"+sha256Of(ref), nil, http.StatusNotFound)
	if got, _ := listReferrers(t, reg, "demo", img, ""); len(got) != 0 {
		t.Errorf("referrers = %+v, want none", got)
	}
}

// TestReferrersMatchStore: after every step of a run of manifest PUTs
// and DELETEs (by tag, sha256 and sha512 digest, of two media types), the
// referrers list names what go-containerregistry's own registry lists from
// its store, once per manifest (a manifest pushed by sha512 digest under
// that digest only), with the same media type and size.
func TestReferrersMatchStore(t *testing.T) {
	reg, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	store := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)), ggcr.WithReferrersSupport(true))

	subjects := [][]byte{imageManifest(0), imageManifest(1), imageManifest(2)}
	var bodies [][]byte
	for i := range 8 {
		bodies = append(bodies, referrerOf(subjects[i%3], artifactType, i))
	}
	bodies = append(bodies, subjects...)
	types := []string{ociManifest, "application/vnd.docker.distribution.manifest.v2+json"}
	rnd := rand.New(rand.NewPCG(13, 1))
	for step := range 400 {
		body := bodies[rnd.IntN(len(bodies))]
		ref := []string{"t0", "t1", sha256Of(body), sha512Of(body)}[rnd.IntN(4)]
		method := http.MethodPut
		if rnd.IntN(3) == 0 {
			method, body = http.MethodDelete, nil
		}
		path := "/v2/demo/app/manifests/" + ref
		ct := types[rnd.IntN(len(types))]
		var statuses [2]int
		for i, h := range []http.Handler{reg, store} {
			req := httptest.NewRequest(method, path, bytes.NewReader(body))
			if body != nil {
				req.Header.Set("Content-Type", ct)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			statuses[i] = rec.Code
		}
		if statuses[0] != statuses[1] {
			t.Fatalf("step %d: %s %s: %d, go-containerregistry %d", step, method, ref, statuses[0], statuses[1])
		}
		for _, s := range subjects {
			got, _ := listReferrers(t, reg, "demo/app", s, "")
			for i, d := range got {
				if d.ArtifactType != artifactType || d.Annotations["n"] == "" {
					t.Fatalf("step %d: referrer %s: artifactType %q, annotations %v", step, d.Digest, d.ArtifactType, d.Annotations)
				}
				got[i].ArtifactType, got[i].Annotations = "", nil
			}
			if want := storeReferrers(t, store, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d (%s %s): referrers of %s\n got %+v\nwant %+v", step, method, ref, sha256Of(s), got, want)
			}
		}
	}
}

// storeReferrers is what go-containerregistry's registry h lists as the
// referrers of subject, less the sha256 entries of manifests it also
// lists under a sha512 digest, with media type, digest and size only
// (its artifactType and annotations are not the spec's), in digest order.
func storeReferrers(t *testing.T, h http.Handler, subject []byte) []listed {
	t.Helper()
	rec := serveDirect(t, h, http.MethodGet, "/v2/demo/app/referrers/"+sha256Of(subject), nil, 0)
	var idx struct{ Manifests []listed }
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
			t.Fatal(err)
		}
	}
	twins := map[string]bool{}
	for _, d := range idx.Manifests {
		if !strings.HasPrefix(d.Digest, "sha256:") {
			m := serveDirect(t, h, http.MethodGet, "/v2/demo/app/manifests/"+d.Digest, nil, http.StatusOK)
			twins[sha256Of(m.Body.Bytes())] = true
		}
	}
	out := []listed{}
	for _, d := range idx.Manifests {
		if !twins[d.Digest] {
			out = append(out, listed{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
		}
	}
	return sortedEntries(out...)
}

// TestReferrersOddFields: manifests whose fields are not all of the
// spec's types are listed as they were before the index: the subject as
// go-containerregistry reads it, the artifactType and annotations from the
// manifest when those fields read, else from go-containerregistry.
func TestReferrersOddFields(t *testing.T) {
	img := imageManifest(0)
	subject := `"subject":{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(img) + `","size":` + strconv.Itoa(len(img)) + `}`
	for _, tc := range []struct {
		name, manifest string
		want           *listed // nil: not listed
	}{
		{"config size not a number",
			`{"schemaVersion":2,"artifactType":"application/x-a","config":{"mediaType":"application/x-config","size":"6"},"annotations":{"n":"1"},` + subject + `}`,
			&listed{ArtifactType: "application/x-config", Annotations: map[string]string{"n": "1"}}},
		{"subject size not a number",
			`{"schemaVersion":2,"artifactType":"application/x-a","subject":{"digest":"` + sha256Of(img) + `","size":"x"}}`,
			&listed{ArtifactType: "application/x-a"}},
		{"no artifactType, no config",
			`{"schemaVersion":2,` + subject + `}`,
			&listed{}},
		{"subject digest not a digest",
			`{"schemaVersion":2,"artifactType":"application/x-a","subject":{"digest":"sha256:xyz","size":1}}`,
			nil},
		{"subject null",
			`{"schemaVersion":2,"artifactType":"application/x-a","subject":null}`,
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := registry.New(registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			body := []byte(tc.manifest)
			serveDirect(t, reg, http.MethodPut, "/v2/demo/manifests/"+sha256Of(body), body, http.StatusCreated)
			got, _ := listReferrers(t, reg, "demo", img, "")
			var want []listed
			if tc.want != nil {
				w := *tc.want
				w.MediaType, w.Digest, w.Size = ociManifest, sha256Of(body), int64(len(body))
				want = []listed{w}
			}
			if len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
				t.Errorf("referrers = %+v, want %+v", got, want)
			}
		})
	}
}

// TestListingAsEncodingJSONWrites: the listing, written from entries
// encoded when their manifests were stored, is byte for byte what
// encoding/json writes for the index it holds (as the registry wrote it
// before): HTML characters, U+2028, control characters and other UTF-8
// in annotations, entries without artifactType or annotations, a
// filtered listing and an empty one.
func TestListingAsEncodingJSONWrites(t *testing.T) {
	type entry struct {
		MediaType    string            `json:"mediaType"`
		Digest       string            `json:"digest"`
		Size         int64             `json:"size"`
		ArtifactType string            `json:"artifactType,omitempty"`
		Annotations  map[string]string `json:"annotations,omitempty"`
	}
	type index struct {
		SchemaVersion int     `json:"schemaVersion"`
		MediaType     string  `json:"mediaType"`
		Manifests     []entry `json:"manifests"`
	}
	reg, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	img := imageManifest(0)
	subject := `"subject":{"mediaType":"` + ociManifest + `","digest":"` + sha256Of(img) + `","size":` + strconv.Itoa(len(img)) + `}`
	annotations := []string{
		`{"envelope":"{\"payload\":\"<a&b>\"}","z":"\u2028\u2029","a":"\u0001\t\n","é":"日本"}`,
		`{}`,
		``,
		`{"n":"1","m":""}`,
	}
	for i, a := range annotations {
		at := `"artifactType":"application/x-` + strconv.Itoa(i%2) + `",`
		if i == 2 {
			at = ""
		}
		if a != "" {
			a = `"annotations":` + a + `,`
		}
		body := []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `",` + at + a + subject + `}`)
		serveDirect(t, reg, http.MethodPut, "/v2/demo/manifests/"+sha256Of(body), body, http.StatusCreated)
	}
	for _, tc := range []struct {
		subject, query string
		entries        int
	}{
		{sha256Of(img), "", len(annotations)},
		{sha256Of(img), "?artifactType=application/x-1", 2},
		{sha256Of([]byte("nothing refers to this")), "", 0},
	} {
		got := serveDirect(t, reg, http.MethodGet, "/v2/demo/referrers/"+tc.subject+tc.query, nil, http.StatusOK).Body.Bytes()
		var idx index
		if err := json.Unmarshal(got, &idx); err != nil || len(idx.Manifests) != tc.entries || idx.Manifests == nil {
			t.Fatalf("listing%s: %v, %d entries, want %d\n%s", tc.query, err, len(idx.Manifests), tc.entries, got)
		}
		want, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("listing%s:\n%s\nencoding/json writes\n%s", tc.query, got, want)
		}
	}
}
