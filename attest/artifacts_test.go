package attest_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// TestArtifacts checks the compact table against the map it stands for,
// across chunk boundaries, with hash objects of every kind, and that
// ScanLink reads a large link as ParseLink does.
func TestArtifacts(t *testing.T) {
	for _, n := range []int{0, 1, 1023, 1024, 1025, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			m := map[string]attest.HashObj{}
			for i := range n {
				h := attest.HashObj{"sha256": fmt.Sprintf("%064x", i)}
				switch i % 7 {
				case 3:
					h["sha512"] = "abcd"
				case 5:
					h = attest.HashObj{"sha256": fmt.Sprintf("%064X", i)}
				}
				m[fmt.Sprintf("dir%d/file%05d", i%13, i)] = h
			}
			a := attest.NewArtifacts(m)
			if a.Len() != n || !reflect.DeepEqual(a.Map(), m) {
				t.Fatalf("table of %d entries: %d, equal %v", n, a.Len(), reflect.DeepEqual(a.Map(), m))
			}
			for i := range a.Len() {
				p := a.Path(i)
				if i > 0 && a.Path(i-1) >= p {
					t.Fatalf("entry %d %q after %q", i, p, a.Path(i-1))
				}
				if a.Find(p) != i || !reflect.DeepEqual(a.Hashes(i), m[p]) || !a.SameHashes(i, a, i) {
					t.Fatalf("entry %d %q: Find %d, hashes %v want %v", i, p, a.Find(p), a.Hashes(i), m[p])
				}
			}
			if a.Find("absent") != -1 || a.Find("") != -1 {
				t.Fatal("found an absent path")
			}
			b := attest.NewArtifacts(m)
			if n > 0 && b.SamePaths(a) {
				t.Fatal("SamePaths of two tables that do not share their paths")
			}
			if n > 0 && !b.SharePaths(a) || !reflect.DeepEqual(b.Map(), m) {
				t.Fatal("SharePaths with the same paths")
			}
			if !b.SamePaths(a) || !a.SamePaths(b) || !a.SamePaths(a) {
				t.Fatal("SamePaths of tables that share their paths")
			}
			if n > 0 {
				fewer := map[string]attest.HashObj{}
				for p, h := range m {
					fewer[p] = h
					break
				}
				if c := attest.NewArtifacts(fewer); c.SamePaths(a) || a.SamePaths(c) || (n > 1 && c.SharePaths(a)) {
					t.Fatal("SamePaths or SharePaths of tables of other paths")
				}
			}
			if a.SamePaths(nil) || (*attest.Artifacts)(nil).SamePaths(a) {
				t.Fatal("SamePaths with no table")
			}
			l := &attest.Link{Name: "build", Materials: m, Products: map[string]attest.HashObj{"app": {"sha256": fmt.Sprintf("%064x", 1)}}}
			payload, err := l.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			defer attest.SplitAlways()()
			for _, e := range []*attest.Envelope{
				attest.NewEnvelope(attest.FormMetablock, payload),
				attest.NewEnvelope(attest.FormDSSE, payload),
				// The places of fields count from the payload's start.
				attest.NewEnvelope(attest.FormDSSE, append([]byte(" \n\t "), payload...)),
			} {
				data, err := e.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				checkScan(t, data)
				env, _ := attest.ParseEnvelope(data)
				if _, _, ok := attest.ScanLink(env); !ok {
					t.Fatalf("ScanLink declined a link of %d materials (%s)", n, e.Form)
				}
			}
		})
	}
}
