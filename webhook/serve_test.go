package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/webhook"
)

// TestServe: the webhook is served over HTTPS only; a review is answered
// under the policy file, which is reloaded when it changes (a broken new
// version keeps the old one, and the log says why); cancelling the
// context stops the server.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	cert, key, roots := testenv.SelfSignedCert(t, dir)
	policy := filepath.Join(dir, "policy.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(policy, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("policies: []\nunmatched: allow\n")
	p, err := webhook.LoadPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.NewDecider(p, webhook.DeciderOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	var logs testenv.SyncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- webhook.Serve(ctx, d, webhook.ServeOptions{Addr: "127.0.0.1:0", TLSCertFile: cert, TLSKeyFile: key, PolicyFile: policy,
			Reload: 20 * time.Millisecond, Logger: log.New(&logs, "", 0), Ready: func(a net.Addr) { addrc <- a }})
	}()
	addr := (<-addrc).String()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	review, err := os.ReadFile(filepath.Join("testdata", "pod-create.json"))
	if err != nil {
		t.Fatal(err)
	}
	allowed := func() bool {
		t.Helper()
		resp, err := client.Post("https://"+addr+"/verify?timeout=5s", "application/json", bytes.NewReader(review))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Response struct {
				Allowed bool `json:"allowed"`
			} `json:"response"`
		}
		body, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
		}
		return out.Response.Allowed
	}
	if !allowed() {
		t.Fatal("unmatched: allow denied a Pod")
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("the webhook answered plain HTTP")
	}

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("%s; log:\n%s", what, logs.String())
	}
	pub, err := os.ReadFile(filepath.Join("..", "attest", "testdata", "ingolang", "alice.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	// Tags refused: denied with no registry call.
	write("policies:\n  - name: all\n    images: [\"**\"]\n    layoutKeys: [owner.pub]\n    requireDigest: true\nunmatched: deny\n")
	waitFor("the changed policy was not reloaded", func() bool { return !allowed() })
	write("policies: [\n")
	waitFor("a broken policy was not reported", func() bool { return strings.Contains(logs.String(), "not reloaded") })
	if allowed() {
		t.Error("a broken policy replaced the one in use")
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
	if err := webhook.Serve(context.Background(), d, webhook.ServeOptions{Addr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "HTTPS") {
		t.Errorf("without a certificate: %v", err)
	}
}
