package oci_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// linkOfSize is a signed link envelope of about size bytes (its
// byproducts pad it).
func linkOfSize(t *testing.T, f *attest.Signer, name string, size int) []byte {
	t.Helper()
	link := &attest.Link{Name: name, Byproducts: map[string]any{"stdout": strings.Repeat("x", size*3/4)}}
	return sign(t, attest.FormDSSE, must(link.Marshal()), f)
}

// layoutOfSize is a signed layout envelope of about size bytes (its
// readme pads it).
func layoutOfSize(t *testing.T, f *attest.Signer, size int) []byte {
	t.Helper()
	l := &attest.Layout{Expires: "2036-01-01T00:00:00Z", Readme: strings.Repeat("x", size*3/4), Keys: map[string]*attest.Key{}}
	return sign(t, attest.FormDSSE, must(l.Marshal()), f)
}

// A small envelope rides in its manifest's annotations
// (oci.AnnotationEnvelopeData), byte for byte, and so in the referrers
// listing; a link over oci.InlineEnvelopeMax does not, nor a layout over
// oci.InlineLayoutMax (a layout under it does), nor an artifact
// referrer's file, nor any envelope once the subject's listing carries
// oci.InlineListingMax of them.
func TestAttachCarriesSmallEnvelopes(t *testing.T) {
	ctx := context.Background()
	for _, kind := range storeKinds[:2] {
		t.Run(kind, func(t *testing.T) {
			s := open(t, newStore(t, kind))
			image := pushImage(t, s, "app "+kind)
			f, _ := attest.GenerateKey("")
			total := 0 // bytes of the envelopes the listing carries
			carried := func(file []byte) bool {
				t.Helper()
				a, err := oci.Attach(ctx, s, image, file, oci.AttachOptions{})
				if err != nil {
					t.Fatal(err)
				}
				list, err := oci.ListReferrers(ctx, s, image, "", 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range list {
					if d.Digest == a.Manifest.Digest {
						data, ok := d.Annotations[oci.AnnotationEnvelopeData]
						if ok && data != string(file) {
							t.Fatalf("the listing carries other bytes than the envelope")
						}
						if ok {
							total += len(file)
						}
						return ok
					}
				}
				t.Fatalf("%s not listed", a.Manifest.Digest)
				return false
			}
			if ok := carried(linkOfSize(t, f, "small", 1<<10)); !ok {
				t.Error("a 1 KiB link is not carried in the listing")
			}
			// The graph says what each referrer is, without the envelope.
			for _, listed := range []bool{false, true} {
				graph, _, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{ListedEnvelopes: listed}, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range graph.Referrers {
					if _, ok := n.Annotations[oci.AnnotationEnvelopeData]; ok || n.Annotations[oci.AnnotationKind] != "link" {
						t.Errorf("listed %v: referrer %s has annotations %v", listed, n.Digest, n.Annotations)
					}
				}
			}
			if ok := carried(linkOfSize(t, f, "large", oci.InlineEnvelopeMax+1)); ok {
				t.Error("a link over InlineEnvelopeMax is carried in the listing")
			}
			if ok := carried(layoutOfSize(t, f, oci.InlineEnvelopeMax+1)); !ok {
				t.Error("a layout over InlineEnvelopeMax, under InlineLayoutMax, is not carried in the listing")
			}
			if ok := carried(layoutOfSize(t, f, oci.InlineLayoutMax+1)); ok {
				t.Error("a layout over InlineLayoutMax is carried in the listing")
			}
			art, err := oci.AttachArtifact(ctx, s, image, "report.json", []byte(`{"ok":true}`), oci.ArtifactOptions{})
			if err != nil {
				t.Fatal(err)
			}
			data := fetch(t, s, art.Manifest)
			if strings.Contains(string(data), oci.AnnotationEnvelopeData) {
				t.Error("an artifact referrer carries its file in its annotations")
			}
			if kind != "referrers-api" {
				return // the bound is the same; attaching takes 0.75 s each on the tag schema here
			}
			// Up to the listing's bound, then no more.
			n := 0
			for ; total <= oci.InlineListingMax; n++ {
				if !carried(linkOfSize(t, f, fmt.Sprintf("step%d", n), oci.InlineEnvelopeMax-1<<10)) {
					break
				}
			}
			if total > oci.InlineListingMax || total < oci.InlineListingMax-oci.InlineEnvelopeMax-1<<10 {
				t.Errorf("the listing carries %d bytes of envelopes after %d attaches, want close to %d and no more", total, n, oci.InlineListingMax)
			}
			if ok := carried(linkOfSize(t, f, "after", 1<<10)); ok && total > oci.InlineListingMax {
				t.Error("a small link is carried past InlineListingMax")
			}
		})
	}
}

// A registry that refuses manifests with long annotations (400
// MANIFEST_INVALID) still takes the envelope: attached again without
// carrying it, as a blob only; one that refuses for another reason
// (unauthorized) is not asked twice.
func TestAttachWhereLongAnnotationsAreRefused(t *testing.T) {
	ctx := context.Background()
	backend := newRegistry(t, true)
	for _, tc := range []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"manifest invalid", http.StatusBadRequest, `{"errors":[{"code":"MANIFEST_INVALID","message":"annotation too long"}]}`, true},
		{"too large", http.StatusRequestEntityTooLarge, `{"errors":[]}`, true},
		{"denied", http.StatusForbidden, `{"errors":[{"code":"DENIED","message":"no"}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var refused atomic.Int32
			rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
					body, _ := io.ReadAll(r.Body)
					if strings.Contains(string(body), oci.AnnotationEnvelopeData) {
						refused.Add(1)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(tc.status)
						_, _ = io.WriteString(w, tc.body)
						return
					}
					r.Body = io.NopCloser(bytes.NewReader(body))
				}
				rp.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			s := open(t, strings.TrimPrefix(srv.URL, "http://")+"/refuse-"+strings.ReplaceAll(tc.name, " ", "-"))
			image := pushImage(t, s, "app "+tc.name)
			f, _ := attest.GenerateKey("")
			file := linkOfSize(t, f, "build", 1<<10)
			a, err := oci.Attach(ctx, s, image, file, oci.AttachOptions{})
			if !tc.ok {
				if err == nil || refused.Load() != 1 {
					t.Fatalf("attached (%v) after %d refusals", err, refused.Load())
				}
				return
			}
			if err != nil || refused.Load() != 1 {
				t.Fatalf("attach: %v (%d refusals)", err, refused.Load())
			}
			m := fetch(t, s, a.Manifest)
			if strings.Contains(string(m), oci.AnnotationEnvelopeData) || !strings.Contains(string(m), oci.AnnotationEnvelopeDigest) {
				t.Errorf("manifest %s", m)
			}
		})
	}
}
