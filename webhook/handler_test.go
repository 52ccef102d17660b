package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/referee-dev/referee/webhook"
)

func post(t *testing.T, c *http.Client, url string, body []byte) (int, string, *admissionv1.AdmissionReview) {
	t.Helper()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(data), nil
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data), &out
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestHandler(t *testing.T) {
	f := newFixture(t, "")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	srv := httptest.NewTLSServer(webhook.Handler(d, webhook.HandlerOptions{}))
	defer srv.Close()
	c := srv.Client()

	review := func(images ...string) []byte {
		data, err := json.Marshal(podReview(t, admissionv1.Create, "shop", images...))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for range 2 {
		code, body, out := post(t, c, srv.URL+"/verify?timeout=10s", review(f.good))
		if code != 200 || out.Response == nil || !out.Response.Allowed || out.Response.UID != "uid-1" || out.Kind != "AdmissionReview" || out.APIVersion != "admission.k8s.io/v1" {
			t.Fatalf("verified: %d %s", code, body)
		}
	}
	code, body, out := post(t, c, srv.URL+"/verify?timeout=10s", review(f.evil))
	if code != 200 || out.Response.Allowed || !strings.Contains(out.Response.Result.Message, `policy "shop": not verified`) {
		t.Fatalf("replayed: %d %s", code, body)
	}
	// The testdata review runs registry.example.com images, which no rule covers.
	code, body, out = post(t, c, srv.URL+"/verify", readReview(t, "deployment.json"))
	if code != 200 || out.Response.Allowed || out.Response.UID != "u-deployments" || !strings.Contains(out.Response.Result.Message, "no policy covers registry.example.com/shop/migrate") {
		t.Fatalf("deployment: %d %s", code, body)
	}
	for _, tc := range []struct{ name, url, body, want string }{
		{"not a review", "/verify", "{}", "not an AdmissionReview of admission.k8s.io/v1"},
		{"bad timeout", "/verify?timeout=soon", string(readReview(t, "pod-create.json")), `timeout "soon" is not a duration`},
		{"too large", "/verify", strings.Repeat(" ", webhook.MaxReviewBytes+1), "more than"},
	} {
		if code, body, _ := post(t, c, srv.URL+tc.url, []byte(tc.body)); code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q, want 400 %q", tc.name, code, body, tc.want)
		}
	}
	if code, _ := get(t, c, srv.URL+"/verify"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /verify: %d", code)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, c, srv.URL+path); code != 200 || body != "ok\n" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	code, metrics := get(t, c, srv.URL+"/metrics")
	for _, want := range []string{
		`referee_webhook_requests_total{outcome="allowed"} 2`,
		`referee_webhook_requests_total{outcome="denied"} 2`,
		`referee_webhook_requests_total{outcome="bad_request"} 3`,
		"referee_webhook_decision_seconds_count 4",
		"referee_webhook_cache_hits_total 1",
		"referee_webhook_verifications_total 2",
		"referee_webhook_cache_entries 2",
	} {
		if code != 200 || !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
}

func TestHandlerNotReady(t *testing.T) {
	d := webhook.NewDecider(nil, webhook.DeciderOptions{})
	srv := httptest.NewServer(webhook.Handler(d, webhook.HandlerOptions{}))
	defer srv.Close()
	if code, body := get(t, srv.Client(), srv.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no policy loaded") {
		t.Fatalf("readyz without a policy: %d %q", code, body)
	}
	// And a review is denied, not a panic.
	code, body, out := post(t, srv.Client(), srv.URL+"/verify", readReview(t, "pod-create.json"))
	if code != 200 || out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "no policy loaded") {
		t.Fatalf("no policy: %d %s", code, body)
	}
}
