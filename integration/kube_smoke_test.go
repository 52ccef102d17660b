//go:build integration

package integration_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestKubeSmoke proves the harness: the apiserver reports the version built,
// and a Pod created in a new namespace with kubectl reads back as written.
func TestKubeSmoke(t *testing.T) {
	t.Parallel()
	k := startKube(t, kubeOptions{})

	resp, err := k.client.Get(k.url + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ GitVersion string }
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if err != nil || v.GitVersion != kubeVersion {
		t.Fatalf("GET /version: gitVersion %q (%v), want %s", v.GitVersion, err, kubeVersion)
	}

	const image = "registry.example/shop/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	k.namespace(t, "smoke")
	k.apply(t, podYAML("smoke", "app", image))
	got := k.mustKubectl(t, "", "get", "pod", "app", "-n", "smoke", "-o", "jsonpath={.spec.containers[0].image}").stdout
	if got != image {
		t.Fatalf("pod smoke/app runs %q, want %q", got, image)
	}
}

// TestKubeWebhookDenies proves that the apiserver calls a validating webhook
// served by the test on loopback (the recipe in kube_helpers_test.go): Pods
// in namespace locked are refused with the webhook's message, Pods in open
// are admitted, a server-side dry-run arrives marked as one, and with the
// webhook down (failurePolicy: Fail) Pods in open are refused too.
func TestKubeWebhookDenies(t *testing.T) {
	t.Parallel()
	k := startKube(t, kubeOptions{})
	k.namespace(t, "locked")
	k.namespace(t, "open")

	var mu sync.Mutex
	var seen []admissionRequest
	url, ca, stop := serveWebhook(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			Request admissionRequest `json:"request"`
		}
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := review.Request
		req.Path, req.Timeout = r.URL.Path, r.URL.Query().Get("timeout")
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		resp := map[string]any{"uid": req.UID, "allowed": true}
		if req.Namespace == "locked" {
			resp["allowed"] = false
			resp["status"] = map[string]any{"code": 403, "message": fmt.Sprintf("referee test: %s %s/%s refused", req.Operation, req.Namespace, req.Name)}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp})
	}))
	k.apply(t, webhookYAML("deny-locked", url+"/verify", ca, []string{"pods"}, []string{"locked", "open"}))
	k.waitWebhook(t, "locked", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0
	})

	r := k.kubectl(t, podYAML("locked", "app", "registry.example/shop/app:1"), "create", "-f", "-")
	const want = `admission webhook "deny-locked.referee.test" denied the request: referee test: CREATE locked/app refused`
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("kubectl create in locked: want refused with %q\n%s", want, r)
	}
	t.Logf("kubectl create in locked: %s", strings.TrimSpace(r.stderr))
	if r := k.kubectl(t, "", "get", "pod", "app", "-n", "locked"); r.code == 0 {
		t.Fatalf("the refused Pod exists:\n%s", r)
	}
	k.mustKubectl(t, podYAML("open", "app", "registry.example/shop/app:1"), "create", "-f", "-")

	// Webhook down: failurePolicy Fail refuses what it would have admitted.
	stop()
	r = k.kubectl(t, podYAML("open", "app2", "registry.example/shop/app:1"), "create", "-f", "-")
	if down := `failed calling webhook "deny-locked.referee.test"`; r.code == 0 || !strings.Contains(r.stderr, down) {
		t.Fatalf("kubectl create with the webhook down: want refused with %q\n%s", down, r)
	}
	t.Logf("kubectl create with the webhook down: %s", strings.TrimSpace(r.stderr))

	mu.Lock()
	defer mu.Unlock()
	var probe, locked, open *admissionRequest
	for i := range seen {
		switch s := &seen[i]; {
		case s.Name == "webhook-probe" && probe == nil:
			probe = s
		case s.Name == "app" && s.Namespace == "locked":
			locked = s
		case s.Name == "app" && s.Namespace == "open":
			open = s
		}
	}
	if probe == nil || !probe.DryRun {
		t.Errorf("the dry-run probe arrived as %+v, want dryRun true", probe)
	}
	for _, s := range []*admissionRequest{locked, open} {
		if s == nil {
			t.Fatalf("the webhook did not see both Pod creations: %+v", seen)
		}
		if s.DryRun || s.Operation != "CREATE" || s.Path != "/verify" || s.Timeout != "5s" {
			t.Errorf("review %+v: want CREATE, not dry-run, at /verify?timeout=5s", *s)
		}
	}
}

// admissionRequest is the part of an AdmissionReview v1 request the
// webhook test reads, and where it arrived.
type admissionRequest struct {
	UID       string `json:"uid"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Operation string `json:"operation"`
	DryRun    bool   `json:"dryRun"`
	Path      string `json:"-"`
	Timeout   string `json:"-"`
}
