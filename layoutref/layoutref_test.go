package layoutref_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
)

func layout(t *testing.T, owner *attest.Signer, version int, readme string) layoutref.Candidate {
	t.Helper()
	l := attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Readme: readme, Keys: map[string]*attest.Key{}}
	if version > 0 {
		l.SetVersion(version)
	}
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, owner)
	if err != nil {
		t.Fatal(err)
	}
	return layoutref.Candidate{Source: readme, Envelope: env}
}

func TestSelect(t *testing.T) {
	owner, _ := attest.GenerateKey("")
	other, _ := attest.GenerateKey("")
	keys := []*attest.Key{owner.Key()}
	v1, v2, v2b := layout(t, owner, 1, "v1"), layout(t, owner, 2, "v2"), layout(t, owner, 2, "v2b")
	forged := layout(t, other, 9, "forged")
	for _, tc := range []struct {
		name   string
		cands  []layoutref.Candidate
		min    int
		chosen string
		err    string
	}{
		{"none attached", nil, 0, "", "no layout is attached"},
		{"highest version wins", []layoutref.Candidate{v2, v1}, 0, "v2", ""},
		{"order does not matter", []layoutref.Candidate{v1, v2}, 0, "v2", ""},
		{"another key's newer layout is ignored", []layoutref.Candidate{v1, forged}, 0, "v1", ""},
		{"only another key's layout", []layoutref.Candidate{forged}, 0, "", "signed by every layout key"},
		{"two different layouts share the highest version", []layoutref.Candidate{v2, v2b, v1}, 0, "", "2 different layouts"},
		{"the same layout attached twice", []layoutref.Candidate{v2, v2}, 0, "v2", ""},
		{"below the minimum", []layoutref.Candidate{v1}, 2, "", "version 2 or higher"},
		{"at the minimum", []layoutref.Candidate{v1, v2}, 2, "v2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := layoutref.Select(tc.cands, keys, tc.min)
			if tc.err != "" {
				if err == nil || !errors.Is(err, layoutref.ErrNoLayout) && !strings.Contains(err.Error(), "no acceptable layout") || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || sel.Chosen.Source != tc.chosen {
				t.Fatalf("chose %+v, %v; want %s", sel, err, tc.chosen)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	owner, _ := attest.GenerateKey("")
	c := layout(t, owner, 3, "file")
	data, _ := c.Envelope.Marshal()
	dir := t.TempDir()
	p := filepath.Join(dir, "root.layout")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := layoutref.Load(context.Background(), p, oci.Options{})
	if err != nil || got.Source != p || string(got.Envelope.Payload) != string(c.Envelope.Payload) {
		t.Fatalf("Load(file): %+v %v", got, err)
	}
	if _, err := layoutref.Load(context.Background(), "nosuch.layout", oci.Options{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("a missing file: %v", err)
	}
}

// TestLoadBadNames: --layout values that name neither a file nor a usable
// reference say which, on one line.
func TestLoadBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, want string }{
		{"nosuch.layout", "--layout nosuch.layout: no such file"},
		{filepath.Join(dir, "nosuch.layout"), "--layout " + filepath.Join(dir, "nosuch.layout") + ": no such file"},
		{"./nosuch.layout", "--layout ./nosuch.layout: no such file"},
		{dir, `--layout: "` + dir + `" is a directory; for an OCI layout write oci-layout:` + dir},
		{"localhost:5000/Policy:v1", `--layout: reference "localhost:5000/Policy:v1": repository "Policy" has uppercase letters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := layoutref.Load(context.Background(), tc.name, oci.Options{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load(%q): %v\nwant %q", tc.name, err, tc.want)
			}
		})
	}
}
