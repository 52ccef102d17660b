package registry_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/registry"
)

// call sends one request with headers given as name, value pairs and
// returns the answer and its body.
func call(t *testing.T, method, url string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp, b.Bytes()
}

func sha256Of(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
func sha512Of(b []byte) string { return fmt.Sprintf("sha512:%x", sha512.Sum512(b)) }

// errorCode is the first error code of a distribution error body.
func errorCode(body []byte) string {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// roots runs f on a registry in memory and on one with a root.
func roots(t *testing.T, f func(t *testing.T, root string)) {
	for _, root := range []string{"", t.TempDir()} {
		name := "memory"
		if root != "" {
			name = "root"
		}
		t.Run(name, func(t *testing.T) { f(t, root) })
	}
}

// newUpload opens an upload session in repo and returns its URL.
func newUpload(t *testing.T, srv *server, repo string) string {
	t.Helper()
	resp, body := call(t, http.MethodPost, srv.URL+"/v2/"+repo+"/blobs/uploads/", nil)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") == "" {
		t.Fatalf("POST uploads: %s, Location %q\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	return srv.URL + resp.Header.Get("Location")
}

// TestBlobUploadLocation: every way to push a blob ends in 201 with a
// Location that serves the blob, and Docker-Content-Digest.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-blobs
func TestBlobUploadLocation(t *testing.T) {
	roots(t, func(t *testing.T, root string) {
		srv := start(t, registry.Options{Root: root})
		for _, tc := range []struct {
			name   string
			digest func([]byte) string
			push   func(t *testing.T, repo, digest string, blob []byte) *http.Response
		}{
			{"monolithic POST", sha256Of, func(t *testing.T, repo, d string, blob []byte) *http.Response {
				resp, _ := call(t, http.MethodPost, srv.URL+"/v2/"+repo+"/blobs/uploads/?digest="+d, blob, "Content-Type", "application/octet-stream")
				return resp
			}},
			{"POST then PUT", sha256Of, func(t *testing.T, repo, d string, blob []byte) *http.Response {
				resp, _ := call(t, http.MethodPut, newUpload(t, srv, repo)+"?digest="+d, blob)
				return resp
			}},
			{"streamed PATCH then PUT, sha512", sha512Of, func(t *testing.T, repo, d string, blob []byte) *http.Response {
				resp, _ := call(t, http.MethodPatch, newUpload(t, srv, repo), blob)
				resp, _ = call(t, http.MethodPut, srv.URL+resp.Header.Get("Location")+"?digest="+d, nil)
				return resp
			}},
			{"chunked PATCH then PUT", sha256Of, func(t *testing.T, repo, d string, blob []byte) *http.Response {
				loc := newUpload(t, srv, repo)
				for start := 0; start < len(blob); start += 4 {
					end := min(start+4, len(blob))
					resp, body := call(t, http.MethodPatch, loc, blob[start:end], "Content-Range", fmt.Sprintf("%d-%d", start, end-1))
					if resp.StatusCode != http.StatusAccepted {
						t.Fatalf("PATCH %d-%d: %s\n%s", start, end-1, resp.Status, body)
					}
					loc = srv.URL + resp.Header.Get("Location")
				}
				resp, _ := call(t, http.MethodPut, loc+"?digest="+d, nil)
				return resp
			}},
			{"mount from another repository", sha256Of, func(t *testing.T, repo, d string, blob []byte) *http.Response {
				call(t, http.MethodPost, srv.URL+"/v2/other/blobs/uploads/?digest="+d, blob)
				resp, _ := call(t, http.MethodPost, srv.URL+"/v2/"+repo+"/blobs/uploads/?mount="+d+"&from=other", nil)
				return resp
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				blob := []byte("blob for " + tc.name + " " + root)
				d := tc.digest(blob)
				resp := tc.push(t, "loc/app", d, blob)
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("push: %s, want 201", resp.Status)
				}
				if got := resp.Header.Get("Docker-Content-Digest"); got != d {
					t.Errorf("Docker-Content-Digest %q, want %s", got, d)
				}
				loc := resp.Header.Get("Location")
				if want := "/v2/loc/app/blobs/" + d; loc != want {
					t.Errorf("Location %q, want %s", loc, want)
				}
				get, body := call(t, http.MethodGet, srv.URL+loc, nil)
				if get.StatusCode != http.StatusOK || !bytes.Equal(body, blob) {
					t.Errorf("GET Location: %s %q, want the blob", get.Status, body)
				}
			})
		}
	})
}

// TestBlobUploadStatus: GET on an upload's URL answers 204 with Location,
// Range and Docker-Upload-UUID while the upload lives, and 404
// BLOB_UPLOAD_UNKNOWN for any other reference.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-a-blob-in-chunks
func TestBlobUploadStatus(t *testing.T) {
	roots(t, func(t *testing.T, root string) {
		srv := start(t, registry.Options{Root: root})
		blob := []byte("0123456789abcdef")
		loc := newUpload(t, srv, "st/app")
		id := loc[strings.LastIndex(loc, "/")+1:]
		if resp, body := call(t, http.MethodPatch, loc, blob[:10], "Content-Range", "0-9"); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("PATCH: %s\n%s", resp.Status, body)
		}
		status := func(t *testing.T, url string) (*http.Response, []byte) { return call(t, http.MethodGet, url, nil) }

		resp, _ := status(t, loc)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != "0-9" ||
			srv.URL+resp.Header.Get("Location") != loc || resp.Header.Get("Docker-Upload-UUID") != id {
			t.Fatalf("status: %s, Range %q, Location %q, Docker-Upload-UUID %q; want 204, 0-9, %s, %s",
				resp.Status, resp.Header.Get("Range"), resp.Header.Get("Location"), resp.Header.Get("Docker-Upload-UUID"), loc, id)
		}
		// An out-of-order chunk is refused and changes nothing.
		if resp, _ := call(t, http.MethodPatch, loc, blob[12:], "Content-Range", "12-15"); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("out-of-order PATCH: %s, want 416", resp.Status)
		}
		// A chunk shorter than its Content-Range is refused and changes nothing.
		if resp, _ := call(t, http.MethodPatch, loc, blob[10:12], "Content-Range", "10-15"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("short PATCH: %s, want 400", resp.Status)
		}
		if resp, _ := status(t, loc); resp.Header.Get("Range") != "0-9" {
			t.Errorf("after refused chunks Range %q, want 0-9", resp.Header.Get("Range"))
		}

		for _, tc := range []struct{ name, url string }{
			{"unknown id", srv.URL + "/v2/st/app/blobs/uploads/" + strings.Repeat("0", 32)},
			{"not an id", srv.URL + "/v2/st/app/blobs/uploads/not-an-id"},
			{"another repository's upload", srv.URL + "/v2/st/other/blobs/uploads/" + id},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete} {
					resp, body := call(t, method, tc.url+"?digest="+sha256Of(blob), nil)
					if resp.StatusCode != http.StatusNotFound || errorCode(body) != "BLOB_UPLOAD_UNKNOWN" {
						t.Errorf("%s: %s %s, want 404 BLOB_UPLOAD_UNKNOWN", method, resp.Status, body)
					}
				}
			})
		}

		if resp, body := call(t, http.MethodPut, loc+"?digest="+sha256Of(blob), blob[10:], "Content-Range", "10-15"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT last chunk: %s\n%s", resp.Status, body)
		}
		if resp, _ := status(t, loc); resp.StatusCode != http.StatusNotFound {
			t.Errorf("status of a finished upload: %s, want 404", resp.Status)
		}

		// Cancelled: 204, then unknown.
		loc = newUpload(t, srv, "st/app")
		if resp, _ := call(t, http.MethodDelete, loc, nil); resp.StatusCode != http.StatusNoContent {
			t.Errorf("DELETE upload: %s, want 204", resp.Status)
		}
		if resp, _ := status(t, loc); resp.StatusCode != http.StatusNotFound {
			t.Errorf("status of a cancelled upload: %s, want 404", resp.Status)
		}
		// A wrong digest ends the upload.
		loc = newUpload(t, srv, "st/app")
		if resp, body := call(t, http.MethodPut, loc+"?digest="+sha256Of([]byte("other")), blob); resp.StatusCode != http.StatusBadRequest || errorCode(body) != "DIGEST_INVALID" {
			t.Errorf("PUT with a wrong digest: %s %s, want 400 DIGEST_INVALID", resp.Status, body)
		}
		if resp, _ := status(t, loc); resp.StatusCode != http.StatusNotFound {
			t.Errorf("status after a wrong digest: %s, want 404", resp.Status)
		}
	})
}

// TestBlobUploadBounds: upload sessions are bounded in number (the one idle
// longest goes) and in idle time, in memory and on disk.
func TestBlobUploadBounds(t *testing.T) {
	roots(t, func(t *testing.T, root string) {
		t.Run("count", func(t *testing.T) {
			srv := start(t, registry.Options{Root: root, MaxUploads: 3})
			var locs []string
			for i := range 5 {
				if i == 3 {
					// Touch the first: the second is now the one idle
					// longest, then the third.
					call(t, http.MethodGet, locs[0], nil)
				}
				locs = append(locs, newUpload(t, srv, "b/app"))
				time.Sleep(2 * time.Millisecond) // distinct idle times
			}
			for i, want := range []int{204, 404, 404, 204, 204} {
				if resp, _ := call(t, http.MethodGet, locs[i], nil); resp.StatusCode != want {
					t.Errorf("upload %d of 5 (at most 3): %s, want %d", i, resp.Status, want)
				}
			}
			if root != "" {
				if n := countFiles(t, filepath.Join(root, "uploads")); n != 2*3 {
					t.Errorf("%d files under uploads, want %d (two per live upload)", n, 2*3)
				}
			}
		})
		t.Run("idle", func(t *testing.T) {
			srv := start(t, registry.Options{Root: root, UploadTimeout: 50 * time.Millisecond})
			loc := newUpload(t, srv, "b/idle")
			time.Sleep(120 * time.Millisecond)
			newUpload(t, srv, "b/idle") // any request sweeps
			if resp, body := call(t, http.MethodGet, loc, nil); resp.StatusCode != http.StatusNotFound || errorCode(body) != "BLOB_UPLOAD_UNKNOWN" {
				t.Errorf("an upload idle past UploadTimeout: %s %s, want 404 BLOB_UPLOAD_UNKNOWN", resp.Status, body)
			}
		})
	})
}

// TestBlobUploadSurvivesRestart: with a root, an upload in progress is
// still there after the registry restarts, and one that has expired
// meanwhile is gone, files and all.
func TestBlobUploadSurvivesRestart(t *testing.T) {
	root := t.TempDir()
	blob := []byte("resumed after a restart")
	srv := start(t, registry.Options{Root: root, UploadTimeout: time.Hour})
	loc := newUpload(t, srv, "r/app")
	call(t, http.MethodPatch, loc, blob[:7], "Content-Range", "0-6")
	path := strings.TrimPrefix(loc, srv.URL)
	srv.Close()

	srv = start(t, registry.Options{Root: root, UploadTimeout: time.Hour})
	resp, _ := call(t, http.MethodGet, srv.URL+path, nil)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != "0-6" {
		t.Fatalf("status after restart: %s, Range %q; want 204, 0-6", resp.Status, resp.Header.Get("Range"))
	}
	resp, body := call(t, http.MethodPut, srv.URL+path+"?digest="+sha256Of(blob), blob[7:], "Content-Range", fmt.Sprintf("7-%d", len(blob)-1))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("finishing after restart: %s\n%s", resp.Status, body)
	}
	loc = newUpload(t, srv, "r/app")
	path = strings.TrimPrefix(loc, srv.URL)
	srv.Close()

	time.Sleep(60 * time.Millisecond)
	srv = start(t, registry.Options{Root: root, UploadTimeout: 50 * time.Millisecond})
	if resp, _ := call(t, http.MethodGet, srv.URL+path, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an upload expired across a restart: %s, want 404", resp.Status)
	}
	if n := countFiles(t, filepath.Join(root, "uploads")); n != 0 {
		t.Errorf("%d files left under uploads, want none", n)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestBlobRanges: GET with Range answers 206 with the part asked for, 416
// when none of it is in the blob.
func TestBlobRanges(t *testing.T) {
	roots(t, func(t *testing.T, root string) {
		srv := start(t, registry.Options{Root: root})
		blob := []byte("0123456789")
		d := sha512Of(blob)
		call(t, http.MethodPost, srv.URL+"/v2/rg/blobs/uploads/?digest="+d, blob)
		for _, tc := range []struct {
			rng, body, contentRange string
			status                  int
		}{
			{"", "0123456789", "", 200},
			{"bytes=2-5", "2345", "bytes 2-5/10", 206},
			{"bytes=7-", "789", "bytes 7-9/10", 206},
			{"bytes=-3", "789", "bytes 7-9/10", 206},
			{"bytes=8-20", "89", "bytes 8-9/10", 206},
			{"bytes=5-1", "", "", 416},
			{"bytes=20-30", "", "", 416},
		} {
			resp, body := call(t, http.MethodGet, srv.URL+"/v2/rg/blobs/"+d, nil, "Range", tc.rng)
			if resp.StatusCode != tc.status || tc.status != 416 && (string(body) != tc.body || resp.Header.Get("Content-Range") != tc.contentRange) {
				t.Errorf("Range %q: %s %q Content-Range %q; want %d %q %q", tc.rng, resp.Status, body, resp.Header.Get("Content-Range"), tc.status, tc.body, tc.contentRange)
			}
		}
		if resp, body := call(t, http.MethodHead, srv.URL+"/v2/rg/blobs/"+d, nil); resp.StatusCode != 200 || resp.ContentLength != 10 || len(body) != 0 || resp.Header.Get("Docker-Content-Digest") != d {
			t.Errorf("HEAD: %s, Content-Length %d, Docker-Content-Digest %q", resp.Status, resp.ContentLength, resp.Header.Get("Docker-Content-Digest"))
		}
		if resp, _ := call(t, http.MethodDelete, srv.URL+"/v2/rg/blobs/"+d, nil); resp.StatusCode != http.StatusAccepted {
			t.Errorf("DELETE: %s, want 202", resp.Status)
		}
		if resp, body := call(t, http.MethodDelete, srv.URL+"/v2/rg/blobs/"+d, nil); resp.StatusCode != http.StatusNotFound || errorCode(body) != "BLOB_UNKNOWN" {
			t.Errorf("DELETE again: %s %s, want 404 BLOB_UNKNOWN", resp.Status, body)
		}
	})
}

// TestBlobBadRequests: what the blob endpoints refuse, and how.
func TestBlobBadRequests(t *testing.T) {
	srv := start(t, registry.Options{})
	blob := []byte("some blob")
	loc := newUpload(t, srv, "bad/app")
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		hdr                []string
		status             int
		code               string
	}{
		{"upper-case repository", http.MethodPost, "/v2/Bad/App/blobs/uploads/", nil, nil, 400, "NAME_INVALID"},
		{"empty repository", http.MethodPost, "/v2//blobs/uploads/", nil, nil, 400, "NAME_INVALID"},
		{"malformed digest", http.MethodGet, "/v2/bad/app/blobs/sha256:xyz", nil, nil, 400, "DIGEST_INVALID"},
		{"unsupported algorithm", http.MethodHead, "/v2/bad/app/blobs/md5:" + strings.Repeat("0", 32), nil, nil, 400, ""},
		{"unknown blob", http.MethodGet, "/v2/bad/app/blobs/" + sha256Of([]byte("none")), nil, nil, 404, "BLOB_UNKNOWN"},
		{"monolithic, wrong digest", http.MethodPost, "/v2/bad/app/blobs/uploads/?digest=" + sha256Of([]byte("other")), blob, nil, 400, "DIGEST_INVALID"},
		{"monolithic, bad digest", http.MethodPost, "/v2/bad/app/blobs/uploads/?digest=sha256:nothex", blob, nil, 400, "DIGEST_INVALID"},
		{"finish without digest", http.MethodPut, strings.TrimPrefix(loc, srv.URL), blob, nil, 400, "DIGEST_INVALID"},
		{"bad Content-Range", http.MethodPatch, strings.TrimPrefix(loc, srv.URL), blob, []string{"Content-Range", "5-2"}, 416, "BLOB_UPLOAD_INVALID"},
		{"POST to a blob", http.MethodPost, "/v2/bad/app/blobs/" + sha256Of(blob), nil, nil, 405, "UNSUPPORTED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, tc.method, srv.URL+tc.path, tc.body, tc.hdr...)
			if resp.StatusCode != tc.status || tc.code != "" && errorCode(body) != tc.code {
				t.Errorf("%s %s: %s %s, want %d %s", tc.method, tc.path, resp.Status, body, tc.status, tc.code)
			}
		})
	}
	// The refused requests left the upload usable.
	if resp, body := call(t, http.MethodPut, loc+"?digest="+sha256Of(blob), blob); resp.StatusCode != http.StatusCreated {
		t.Errorf("finishing the upload after refusals: %s %s", resp.Status, body)
	}
}
