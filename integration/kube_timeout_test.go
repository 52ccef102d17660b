//go:build integration

package integration_test

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/internal/testenv"
)

// TestKubeTimeout: a registry that accepts connections and never answers,
// behind a webhook configuration with timeoutSeconds: 3. The apiserver
// sends ?timeout=3s; the webhook answers within it (keeping its margin)
// with its own denial, naming the image that ran out of time — not the
// apiserver's "context deadline exceeded", and never an admission.
func TestKubeTimeout(t *testing.T) {
	t.Parallel()
	k := startKube(t, kubeOptions{})
	dir := t.TempDir()
	stalled := testenv.TCPServer(t, func(c net.Conn, done <-chan struct{}) { <-done })
	image := stalled + "/shop/app@sha256:" + strings.Repeat("cd", 32)
	policy := filepath.Join(dir, "policy.yaml")
	must(t, dir, refereeBin, "keygen", "owner")
	writeFile(t, policy, fmt.Sprintf("policies:\n  - name: shop\n    images: [%q]\n    layoutKeys: [owner.pub]\nunmatched: deny\n", stalled+"/shop/**"))
	wh := startRefereeWebhook(t, dir, policy)
	k.apply(t, strings.Replace(admissionYAML("referee", wh.url+"/verify", wh.ca, []string{"shop"}), "timeoutSeconds: 10", "timeoutSeconds: 3", 1))
	k.namespace(t, "shop")
	k.waitDenied(t, podYAML("shop", "probe", stalled+"/elsewhere/app@sha256:"+strings.Repeat("ab", 32)))

	start := time.Now()
	r := k.kubectl(t, podYAML("shop", "stalled", image), "create", "-f", "-")
	took := time.Since(start)
	if r.code == 0 || !strings.Contains(r.stderr, webhookDenied) || !strings.Contains(r.stderr, "registry "+stalled+": timed out after 2.7s verifying "+image) {
		t.Fatalf("a Pod of a stalled registry's image: want the webhook's denial naming the image and the time\n%s", r)
	}
	if took > 5*time.Second {
		t.Errorf("kubectl create took %s with timeoutSeconds: 3", took)
	}
	t.Logf("refused in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
}
