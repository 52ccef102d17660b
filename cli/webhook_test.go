package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// TestWebhookCheckConfig: a valid policy prints its rules (and JSON with
// keyids); an invalid one exits 2 on one line naming the file and line;
// serve refuses to start without TLS or a policy.
func TestWebhookCheckConfig(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "keygen", filepath.Join(dir, "owner"))
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("policies:\n  - name: shop\n    images: [\"registry.example.com/shop/**\"]\n    namespaces: [shop, shop-*]\n    layoutKeys: [owner.pub]\n    minLayoutVersion: 3\nunmatched: deny\nexclude: {namespaces: [referee-system]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, "webhook", "check-config", policy)
	if !strings.Contains(out, `policy shop: images registry.example.com/shop/** in namespaces shop, shop-*; 1 layout key, 0 VSA keys`) || !strings.Contains(out, "unmatched: deny; excluded namespaces: referee-system") {
		t.Errorf("check-config:\n%s", out)
	}
	var j struct {
		Policies []struct {
			Name       string
			LayoutKeys []string `json:"layoutKeys"`
		}
		Generation string
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "webhook", "check-config", "--format", "json", policy)), &j); err != nil || len(j.Policies) != 1 || len(j.Policies[0].LayoutKeys) != 1 || j.Generation == "" {
		t.Errorf("json: %v %+v", err, j)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("policies:\n  - name: shop\n    image: [x]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"webhook", "check-config", bad},
		{"webhook", "check-config", filepath.Join(dir, "missing.yaml")},
		{"webhook", "serve", "--policy", policy},
		{"webhook", "serve", "--tls-cert", "c", "--tls-key", "k"},
	} {
		code, _, stderr := referee(t, args...)
		if code != cli.ExitError || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	if _, _, stderr := referee(t, "webhook", "check-config", bad); !strings.Contains(stderr, "bad.yaml") || !strings.Contains(stderr, "line 3") {
		t.Errorf("invalid policy message: %q", stderr)
	}
}
