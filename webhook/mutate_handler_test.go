package webhook_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/referee-dev/referee/webhook"
)

func TestHandlerMutate(t *testing.T) {
	f := newFixture(t, "")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	srv := httptest.NewTLSServer(webhook.Handler(d, webhook.HandlerOptions{}))
	defer srv.Close()
	c := srv.Client()

	body, err := json.Marshal(mutateReview(t, f, "mutate-deployment.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, text, out := post(t, c, srv.URL+"/mutate?timeout=10s", body)
	if code != 200 || out.Response == nil || !out.Response.Allowed || out.Response.UID != "u-mutate-deployment" ||
		out.Response.PatchType == nil || *out.Response.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("mutate: %d %s", code, text)
	}
	want := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"` + f.reg.host + "/shop/app:demo@" + f.goodDigest + `"}]`
	if string(out.Response.Patch) != want {
		t.Fatalf("patch %s, want %s", out.Response.Patch, want)
	}
	if code, text, out = post(t, c, srv.URL+"/mutate", readReview(t, "mutate-replicaset-owned.json")); code != 200 || out.Response.Patch != nil {
		t.Fatalf("owned replicaset: %d %s", code, text)
	}
	if code, text, _ = post(t, c, srv.URL+"/mutate", []byte("{}")); code != 400 {
		t.Fatalf("not a review: %d %s", code, text)
	}
	_, metrics := get(t, c, srv.URL+"/metrics")
	for _, w := range []string{`referee_webhook_requests_total{outcome="pinned"} 1`, `referee_webhook_requests_total{outcome="unpinned"} 1`} {
		if !strings.Contains(metrics, w) {
			t.Errorf("metrics without %s:\n%s", w, metrics)
		}
	}
}
