package oci_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
)

// TestPullWritesTheCurrentLayoutAsRootLayout: of several layouts attached,
// pull writes the one of highest version as root.layout — the one
// layoutref.Select chooses when the owner signed them all — and the others
// as root.DIGEST12.layout, and says which is current, unverified. A tie
// of different layouts writes no root.layout, as verify refuses it.
func TestPullWritesTheCurrentLayoutAsRootLayout(t *testing.T) {
	owner := key(t)
	expires := time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat)
	layoutFile := func(form attest.Form, version int, readme string) []byte {
		l := attest.Layout{Expires: expires, Readme: readme, Keys: map[string]*attest.Key{}}
		if version > 0 {
			l.SetVersion(version)
		}
		return sign(t, form, must(l.Marshal()), owner)
	}
	v1, v2, v2b, v3 := layoutFile(attest.FormDSSE, 1, "a"), layoutFile(attest.FormDSSE, 2, "a"), layoutFile(attest.FormDSSE, 2, "b"), layoutFile(attest.FormDSSE, 3, "a")
	// The same layout in another envelope: also signed by a second key.
	l3 := attest.Layout{Expires: expires, Readme: "a", Keys: map[string]*attest.Key{}}
	l3.SetVersion(3)
	env3, err := attest.SignPayload(attest.FormDSSE, must(l3.Marshal()), owner, key(t))
	if err != nil {
		t.Fatal(err)
	}
	v3twice := must(env3.Marshal())
	unversioned := layoutFile(attest.FormDSSE, 0, "a")
	invalid := sign(t, attest.FormDSSE, []byte(`{"_type":"layout","expires":"never","readme":"referee-layout-version: 9"}`), owner)

	for _, tc := range []struct {
		name     string
		attached [][]byte // oldest first
		current  []byte   // root.layout, or nil for none
		version  int
		note     []string
	}{
		{"one layout", [][]byte{unversioned}, unversioned, 0, []string{"root.layout is the one layout attached (without a version)", "unverified"}},
		{"highest version wins, whatever the order", [][]byte{v1, v3, v2}, v3, 3, []string{"root.layout is version 3, the highest of the 3 layouts attached", "root.DIGEST12.layout", "unverified: pull checks no signature"}},
		{"the newest is not the current", [][]byte{v3, v1}, v3, 3, []string{"version 3"}},
		{"one layout in two envelopes", [][]byte{v3, v3twice, v1}, v3twice, 3, []string{"version 3, the highest of the 3"}},
		{"an invalid layout is never current", [][]byte{v1, invalid}, v1, 1, []string{"version 1"}},
		{"two different layouts share the highest version", [][]byte{v1, v2, v2b}, nil, 2, []string{"2 different layouts have the highest version (version 2)", "none is written as root.layout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, newStore(t, "referrers-api"))
			image := pushImage(t, s, "app")
			byDigest := map[string][]byte{}
			var cands []layoutref.Candidate
			for i, f := range tc.attached {
				created := time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)
				a, err := oci.Attach(ctx, s, image, f, oci.AttachOptions{Created: created})
				if err != nil {
					// Attach refuses an invalid layout; anyone can push one.
					a, err = oci.AttachReferrer(ctx, s, image, oci.Referrer{ArtifactType: oci.ArtifactTypeLayoutDSSE, LayerMediaType: oci.MediaTypeDSSE, Data: f, Title: "root.layout",
						Annotations: map[string]string{oci.AnnotationKind: "layout", oci.AnnotationCreated: created.Format(time.RFC3339)}})
				}
				if err != nil {
					t.Fatal(err)
				}
				byDigest[a.Manifest.Digest.String()] = f
				env, _ := attest.ParseEnvelope(f)
				cands = append(cands, layoutref.Candidate{Source: a.Manifest.Digest.String(), Envelope: env})
			}
			_, b, err := oci.DiscoverAndGather(ctx, s, image, oci.DiscoverOptions{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			res, err := oci.WriteBundle(b, dir)
			if err != nil {
				t.Fatal(err)
			}

			var names []string
			for _, f := range res.Files {
				names = append(names, filepath.Base(f.Path))
				got, _ := os.ReadFile(f.Path)
				if want := byDigest[f.Referrer]; string(got) != string(want) {
					t.Errorf("%s does not hold its referrer %s", f.Path, f.Referrer)
				}
				if base := filepath.Base(f.Path); base != "root.layout" && base != "root."+strings.TrimPrefix(f.Referrer, "sha256:")[:12]+".layout" {
					t.Errorf("%s is named after neither root.layout nor its referrer %s", f.Path, f.Referrer)
				}
			}
			sort.Strings(names)
			if len(names) != len(tc.attached) {
				t.Errorf("wrote %v for %d layouts", names, len(tc.attached))
			}

			c := res.Current
			if c == nil {
				t.Fatal("no current layout reported")
			}
			root := filepath.Join(dir, "root.layout")
			got, rootErr := os.ReadFile(root)
			if tc.current == nil {
				if rootErr == nil || c.Path != "" || c.Referrer != "" {
					t.Errorf("a tie wrote root.layout (%v) or named a current layout %+v", rootErr, c)
				}
			} else {
				if string(got) != string(tc.current) || c.Path != root || string(byDigest[c.Referrer]) != string(tc.current) {
					t.Errorf("root.layout is not the expected layout; current %+v", c)
				}
				// The same choice as verify's, the owner having signed all.
				sel, err := layoutref.Select(cands, []*attest.Key{owner.Key()}, 0)
				want, _ := attest.ParseEnvelope(tc.current)
				if err != nil || string(sel.Chosen.Envelope.Payload) != string(want.Payload) {
					t.Errorf("verify would choose %+v (%v), pull wrote another", sel, err)
				}
			}
			if c.Version != tc.version {
				t.Errorf("current version %d, want %d", c.Version, tc.version)
			}
			for _, w := range tc.note {
				if !strings.Contains(c.Note, w) {
					t.Errorf("note %q does not say %q", c.Note, w)
				}
			}
			if strings.Contains(c.Note, "\n") {
				t.Errorf("note is not one line: %q", c.Note)
			}
		})
	}
}

// TestPullWithoutLayout reports no current layout.
func TestPullWithoutLayout(t *testing.T) {
	sc := newSupplyChain(t, attest.FormDSSE)
	s := open(t, newStore(t, "oci-layout"))
	image := pushImage(t, s, "app")
	if _, err := oci.Attach(context.Background(), s, image, sc.links["build"], oci.AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	_, b, err := oci.DiscoverAndGather(context.Background(), s, image, oci.DiscoverOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := oci.WriteBundle(b, t.TempDir())
	if err != nil || res.Current != nil || len(res.Files) != 1 {
		t.Errorf("result %+v, %v", res, err)
	}
}
