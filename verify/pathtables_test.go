package verify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// TestSharePathsLinear: links whose paths each differ from all others'
// in the last one only (anyone who can push may list thousands) are not
// each compared in full with every other; links with the same paths
// still share them.
func TestSharePathsLinear(t *testing.T) {
	const links, entries = 1000, 2000
	digest := attest.HashObj{"sha256": strings.Repeat("0", 64)}
	var tables []*attest.Artifacts
	start := time.Now()
	for l := range links {
		m := map[string]attest.HashObj{}
		for i := range entries {
			m[fmt.Sprintf("src/some/package/file%06d.go", i)] = digest
		}
		m[fmt.Sprintf("zz%08d", l)] = digest
		tables = append(tables, attest.NewArtifacts(m))
	}
	built := time.Since(start)
	done := make(chan int, 1)
	start = time.Now()
	go func() { done <- verify.SharePathTables(tables...) }()
	// Building the tables is linear in what sharing reads: a quadratic
	// share took some 50 times as long.
	select {
	case n := <-done:
		if n != 0 {
			t.Fatalf("%d tables shared paths with another that lists other paths", n)
		}
	case <-time.After(built + time.Second):
		t.Fatalf("sharing the paths of %d tables of %d entries took more than %v (building them: %v)", links, entries, built+time.Second, built)
	}
	t.Logf("built in %v, shared in %v", built, time.Since(start))
	same := []*attest.Artifacts{tables[0], attest.NewArtifacts(tables[0].Map()), attest.NewArtifacts(tables[0].Map())}
	if n := verify.SharePathTables(same...); n != 2 {
		t.Fatalf("%d of 2 tables with the same paths shared them", n)
	}
}
