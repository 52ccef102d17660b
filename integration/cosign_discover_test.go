//go:build integration

package integration_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCosignDiscover: referee discover shows cosign's legacy attestations
// (the layers of the sha256-<hex>.att tag, which are no referrers) after
// the referrer tree, with their predicate type, and in --format json.
func TestCosignDiscover(t *testing.T) {
	cosign := tool(t, "cosign")
	needCrane(t)
	dir := t.TempDir()
	cosignKeys(t, cosign, dir)
	predicate := filepath.Join(dir, "vuln.json")
	writeFile(t, predicate, `{"critical":0}`)
	onRegistries(t, func(t *testing.T, r reg) {
		ref, digest := pushImage(t, r.host, "discover")
		img := atDigest(ref, digest)
		cosignAttestPredicate(t, cosign, filepath.Join(dir, "key"), predicate, img, false)
		tree := must(t, dir, refereeBin, "discover", img).out()
		want := "tag sha256-" + strings.TrimPrefix(digest, "sha256:") + ".att layer 0"
		if !strings.Contains(tree, want) || !strings.Contains(tree, "(cosign attestation, predicate "+cosignVulnType) {
			t.Fatalf("discover does not show the legacy attestation (%s):\n%s", want, tree)
		}
		var j struct {
			Cosign []struct{ Source, PredicateType string } `json:"cosignAttestations"`
		}
		if err := json.Unmarshal([]byte(must(t, dir, refereeBin, "discover", img, "--format", "json").out()), &j); err != nil || len(j.Cosign) != 1 || j.Cosign[0].PredicateType != cosignVulnType {
			t.Fatalf("discover --format json: %v %+v", err, j)
		}
	})
}
