package oci_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// listingBodies are pages of a referrers listing, well formed and not:
// the seeds of FuzzListingDecodesAsEncodingJSON.
var listingBodies = []string{
	`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`,
	`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("ab", 32) + `","size":2352,"artifactType":"application/vnd.referee.in-toto.link.v1.dsse+json","annotations":{"dev.referee.in-toto.envelope.data":"{\n \"payloadType\": \"application/vnd.in-toto+json\",\n \"payload\": \"eyJ9\",\n \"signatures\": [{\"keyid\": \"\\u00e9\", \"sig\": \"AA==\"}]\n}"}}]}`,
	`{"manifests":[{"digest":"sha256:1","size":1,"platform":{"os":"linux","architecture":"amd64"},"urls":["a"],"data":"AAEC"}],"annotations":{"a":"b"},"subject":{"digest":"sha256:2","size":3}}`,
	`{"Manifests":[{"Digest":"sha256:1","SIZE":5,"artifacttype":"x"}]}`,                              // keys in another case
	`{"manifests":[{"digest":"sha256:1","digest":"sha256:2","size":1,"size":2}]}`,                    // repeated keys: the last one
	`{"manifests":[{"digest":"sha256:1","annotations":{"k":"a` + "\xffb\xc3" + `","k2":"\ud800"}}]}`, // invalid UTF-8, a lone surrogate
	`{"manifests":[{"digest":"sha256:1","annotations":{"k":"\ud83d\ude00 \u0000 \/"}}]}`,
	`{"manifests":null}`, `{"manifests":[null]}`, `{"manifests":[{}]}`, `{}`, `null`, `[]`, ``, ` `,
	`{"manifests":[{"size":"1"}]}`, `{"manifests":[{"size":1.5}]}`, `{"manifests":[{"size":2e2}]}`,
	`{"manifests":[{"size":-1}]}`, `{"manifests":[{"size":1e30}]}`, `{"manifests":[{"size":9223372036854775808}]}`,
	`{"manifests":[{"annotations":{"k":1}}]}`, `{"manifests":[{"annotations":[]}]}`, `{"manifests":{}}`,
	`{"manifests":[]} `, `{"manifests":[]}x`, `{"manifests":[]}{}`, "{\"manifests\":[]}\n{}", `{"manifests":[{"digest":"sha256:1"}]}]`, "\ufeff{}", `{"manifests":[],}`, `{"manifests":[`,
	`{"unknown":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	`{"unknown":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"manifests":[{"digest":"sha256:1"}]}`,
	`{"manifests":[{"mediaType":"a\tb"}]}`, `{"manifests":[{"mediaType":"\u00"}]}`, `{"manifests":[{"digest":true}]}`,
}

// checkDecodesAsEncodingJSON fails unless referee's decoding of a page
// gives what oras-go's (encoding/json's Decoder) gives: the same index,
// or an error for both.
func checkDecodesAsEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	var want ocispec.Index
	wantErr := json.NewDecoder(bytes.NewReader(body)).Decode(&want)
	got, err := oci.DecodeListing(body)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("%.200q: referee's decoding says %v, encoding/json's %v", body, err, wantErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("%.200q: referee decodes\n%+v\nencoding/json\n%+v", body, got, want)
	}
}

// The listing's pages are decoded faster than oras-go decodes them, and
// to the same thing: shapes no registry should send included.
func TestListingDecodesAsEncodingJSON(t *testing.T) {
	for _, b := range listingBodies {
		checkDecodesAsEncodingJSON(t, []byte(b))
	}
}

func FuzzListingDecodesAsEncodingJSON(f *testing.F) {
	for _, b := range listingBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(checkDecodesAsEncodingJSON)
}

// traced is a registry (go-containerregistry's, with the referrers API
// or not) behind a handler that records each request's method and path.
type traced struct {
	host string
	mu   sync.Mutex
	seen []string
}

func tracedRegistry(t *testing.T, referrersAPI bool, serve func(w http.ResponseWriter, r *http.Request, next http.Handler)) *traced {
	backend := ggcr.New(ggcr.WithReferrersSupport(referrersAPI), ggcr.Logger(log.New(io.Discard, "", 0)))
	tr := &traced{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.seen = append(tr.seen, r.Method+" "+r.URL.RequestURI())
		tr.mu.Unlock()
		if serve != nil {
			serve(w, r, backend)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

// requests returns the requests since the last call.
func (tr *traced) requests() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.seen
	tr.seen = nil
	return out
}

// orasListing lists subject's referrers with oras-go alone, on a new
// repository of its own.
func orasListing(t *testing.T, host string, subject ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	t.Helper()
	repo, err := remote.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	var out []ocispec.Descriptor
	err = repo.Referrers(t.Context(), subject, "", func(page []ocispec.Descriptor) error {
		out = append(out, page...)
		return nil
	})
	return out, err
}

// entriesOf is what a listing says of each entry, in digest order.
func entriesOf(ds []ocispec.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest.String()+" "+d.ArtifactType+fmt.Sprint(d.Annotations))
	}
	slices.Sort(out)
	return out
}

// Referee's listing sends the requests oras-go sends, and lists what it
// lists: through the referrers API, in pages, and through the tag schema,
// where a registry without the API costs one request once per
// repository, not once per listing.
func TestListingAsOrasLists(t *testing.T) {
	for _, tc := range []struct {
		name     string
		api      bool
		pageSize int
		first    []string // the requests of the first listing, the second's after it
		again    []string
	}{
		{name: "referrers API", api: true, first: []string{"GET /v2/app/referrers/"}, again: []string{"GET /v2/app/referrers/"}},
		{name: "referrers API in pages", api: true, pageSize: 2,
			first: []string{"GET /v2/app/referrers/", "GET /v2/app/referrers/?page=1", "GET /v2/app/referrers/?page=2"},
			again: []string{"GET /v2/app/referrers/", "GET /v2/app/referrers/?page=1", "GET /v2/app/referrers/?page=2"}},
		{name: "tag schema", first: []string{"GET /v2/app/referrers/", "GET /v2/app/manifests/sha256-"}, again: []string{"GET /v2/app/manifests/sha256-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p *pagedListing
			var serve func(w http.ResponseWriter, r *http.Request, next http.Handler)
			if tc.pageSize > 0 {
				p = &pagedListing{}
				serve = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
					if p.page != nil && strings.Contains(r.URL.Path, "/referrers/") {
						p.serve(w, r, next, t.Context().Done())
						return
					}
					next.ServeHTTP(w, r)
				}
			}
			reg := tracedRegistry(t, tc.api, serve)
			s := storeAt(t, reg.host, oci.Options{})
			image := pushImage(t, s, "listed")
			sc := newSupplyChain(t, attest.FormDSSE)
			for _, step := range []string{"build", "test"} {
				if _, err := oci.Attach(t.Context(), s, image, sc.links[step], oci.AttachOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if p != nil {
				all, err := oci.ListReferrers(t.Context(), s, image, "", 0)
				if err != nil || len(all) != 2 {
					t.Fatalf("%d referrers, %v", len(all), err)
				}
				all = append(all, noteRefs(t, image, 3)...)
				p.page = pagesOf(all, tc.pageSize)
			}
			want, err := orasListing(t, reg.host, image)
			if err != nil {
				t.Fatal(err)
			}
			s = storeAt(t, reg.host, oci.Options{}) // knows nothing of the registry yet
			reg.requests()
			for i, wantRequests := range [][]string{tc.first, tc.again} {
				got, err := oci.ListReferrers(t.Context(), s, image, "", 0)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := entriesOf(got), entriesOf(want); !slices.Equal(g, w) {
					t.Fatalf("listing %d:\n%q\noras-go lists\n%q", i+1, g, w)
				}
				if known, api := oci.ListsByAPI(s); !known || api != tc.api {
					t.Fatalf("listing %d: the store learnt (%v, API %v) of the registry, want the API %v: referee's listing was not the one taken", i+1, known, api, tc.api)
				}
				sent := reg.requests()
				if len(sent) != len(wantRequests) {
					t.Fatalf("listing %d sent %q, want %q…", i+1, sent, wantRequests)
				}
				for j, w := range wantRequests {
					if !strings.HasPrefix(sent[j], strings.Replace(w, "/referrers/", "/referrers/"+image.Digest.String(), 1)) {
						t.Fatalf("listing %d sent %q, want %q…", i+1, sent, wantRequests)
					}
				}
			}
		})
	}
}

// noteRefs is n synthetic referrer entries of subject (the listing's
// entries only).
func noteRefs(t *testing.T, subject ocispec.Descriptor, n int) []ocispec.Descriptor {
	entries, _ := noteReferrers(subject, n)
	return entries
}

// Answers to the first page that say the registry has no referrers API
// (404, an answer that is not an index) send referee to the tag schema,
// as oras-go goes; an error answer is oras-go's error; a next page
// elsewhere is refused, never requested.
func TestListingAnswersAsOras(t *testing.T) {
	elsewhere := tracedRegistry(t, true, nil)
	for _, tc := range []struct {
		name  string
		serve func(w http.ResponseWriter, r *http.Request)
		want  string // in the error; "" for none
	}{
		{name: "404 without a body", serve: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }},
		{name: "not an index", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"manifests":[]}`)
		}},
		{name: "unknown repository", want: "response status code 404: name unknown: no such repository", serve: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"no such repository"}]}`)
		}},
		{name: "denied", want: "response status code 403: denied: go away", serve: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"go away"}]}`)
		}},
		{name: "next page elsewhere", want: "not the same origin", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?page=1>; rel="next"`, elsewhere.host, r.URL.Path))
			w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
			_, _ = io.WriteString(w, `{"schemaVersion":2,"manifests":[]}`)
		}},
		{name: "next page over https", want: "not the same origin", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", fmt.Sprintf(`<https://%s%s?page=1>; rel="next"`, r.Host, r.URL.Path))
			w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
			_, _ = io.WriteString(w, `{"schemaVersion":2,"manifests":[]}`)
		}},
		{name: "next link without brackets", want: "invalid next link", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", r.URL.Path+"?page=1")
			w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
			_, _ = io.WriteString(w, `{"schemaVersion":2,"manifests":[]}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var armed bool
			reg := tracedRegistry(t, false, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if armed && strings.Contains(r.URL.Path, "/referrers/") {
					tc.serve(w, r)
					return
				}
				next.ServeHTTP(w, r)
			})
			s := storeAt(t, reg.host, oci.Options{})
			image := pushImage(t, s, "answered")
			if _, err := oci.Attach(t.Context(), s, image, newSupplyChain(t, attest.FormDSSE).links["build"], oci.AttachOptions{}); err != nil {
				t.Fatal(err)
			}
			armed = true
			want, wantErr := orasListing(t, reg.host, image)
			got, err := oci.ListReferrers(t.Context(), storeAt(t, reg.host, oci.Options{}), image, "", 0)
			switch {
			case tc.want == "" && (err != nil || wantErr != nil):
				t.Fatalf("%v (oras-go: %v)", err, wantErr)
			case tc.want == "" && (len(got) != 1 || !slices.Equal(entriesOf(got), entriesOf(want))):
				t.Fatalf("listed %q, oras-go %q", entriesOf(got), entriesOf(want))
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
				t.Fatalf("%v, want %q (oras-go: %v)", err, tc.want, wantErr)
			case tc.want != "" && !strings.Contains(wantErr.Error(), tc.want):
				t.Fatalf("oras-go says %v, not %q", wantErr, tc.want)
			}
			if sent := elsewhere.requests(); len(sent) > 0 {
				t.Fatalf("a registry elsewhere was sent %q", sent)
			}
		})
	}
}

// A page is read as oras-go reads one, up to --max-manifest-size: an
// index that ends within the limit is listed, whatever follows it; one
// that does not is refused, naming the flag; a page cut short says so.
func TestListingPageLimits(t *testing.T) {
	const limit = 4096
	for _, tc := range []struct {
		name string
		body func(index []byte) []byte
		want string // in the error; "" for listed
	}{
		{name: "exactly at the limit", body: func(ix []byte) []byte { return ix }},
		{name: "at the limit, a newline after", body: func(ix []byte) []byte { return append(ix, '\n') }},
		{name: "data after the index", body: func(ix []byte) []byte { return append(append(ix[:len(ix):len(ix)], '\n'), `{}`...) }},
		{name: "one byte over", body: func(ix []byte) []byte { return append([]byte(" "), ix...) }, want: "is larger than the 4096 bytes --max-manifest-size allows"},
		{name: "cut short", body: func(ix []byte) []byte { return ix[:len(ix)/2] }, want: "is cut short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			reg := tracedRegistry(t, true, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if body != nil && strings.Contains(r.URL.Path, "/referrers/") {
					w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
					_, _ = w.Write(body) // no Content-Length: chunked, so a short page ends cleanly
					w.(http.Flusher).Flush()
					return
				}
				next.ServeHTTP(w, r)
			})
			s := storeAt(t, reg.host, oci.Options{MaxManifestBytes: limit})
			image := pushImage(t, s, "paged")
			entries := noteRefs(t, image, 1)
			index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"annotations":{"pad":"`,
				ocispec.MediaTypeImageIndex, entries[0].MediaType, entries[0].Digest, entries[0].Size)
			index += strings.Repeat("x", limit-len(index)-len(`"}}]}`)) + `"}}]}`
			body = tc.body([]byte(index))
			got, err := oci.ListReferrers(t.Context(), s, image, "", 0)
			switch {
			case tc.want == "" && (err != nil || len(got) != 1 || got[0].Digest != entries[0].Digest):
				t.Fatalf("%d listed, %v", len(got), err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), reg.host)):
				t.Fatalf("%v, want %q naming %s", err, tc.want, reg.host)
			}
		})
	}
}

// A repository Open makes keeps an *auth.Client as its client, where the
// listing state lives below it: oras-go makes a manifest PUT's body
// readable again (to answer an auth challenge, to be retried) only for
// that type, and TestFaultyRegistry fails without it, now and then.
func TestOpenKeepsAuthClient(t *testing.T) {
	s := storeAt(t, newRegistry(t, true), oci.Options{})
	if _, ok := s.(*remote.Repository).Client.(*auth.Client); !ok {
		t.Fatalf("the repository's client is a %T", s.(*remote.Repository).Client)
	}
	if known, _ := oci.ListsByAPI(s); known {
		t.Fatal("a new store knows its registry's listing already")
	}
}
