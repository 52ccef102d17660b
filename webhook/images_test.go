package webhook_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/referee-dev/referee/webhook"
)

func readReview(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

const (
	migrate = "registry.example.com/shop/migrate:v1"
	app     = "registry.example.com/shop/app@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	proxy   = "registry.example.com/shop/proxy:v2"
)

func TestImagesOf(t *testing.T) {
	template := []webhook.Image{
		{Container: "migrate", Field: "spec.template.spec.initContainers[0].image", Reference: migrate},
		{Container: "app", Field: "spec.template.spec.containers[0].image", Reference: app},
		{Container: "sidecar", Field: "spec.template.spec.containers[1].image", Reference: proxy},
	}
	pod := []webhook.Image{
		{Container: "migrate", Field: "spec.initContainers[0].image", Reference: migrate},
		{Container: "app", Field: "spec.containers[0].image", Reference: app},
		{Container: "sidecar", Field: "spec.containers[1].image", Reference: proxy},
	}
	cron := slices.Clone(template)
	for i := range cron {
		cron[i].Field = strings.Replace(cron[i].Field, "spec.template", "spec.jobTemplate.spec.template", 1)
	}
	for _, tc := range []struct {
		file   string
		want   []webhook.Image
		dryRun bool
	}{
		{"pod-create.json", pod, false},
		{"pod-create-dryrun.json", pod, true},
		{"deployment.json", template, false},
		{"replicaset.json", template, false},
		{"statefulset.json", template, false},
		{"daemonset.json", template, false},
		{"job.json", template, false},
		{"cronjob.json", cron, false},
		// kubectl debug: only the ephemeral container is new.
		{"pod-ephemeralcontainers.json", []webhook.Image{{Container: "debugger-x7k2p", Field: "spec.ephemeralContainers[0].image", Reference: "busybox:1.36"}}, false},
		// An UPDATE that changes labels and finalizers runs no new image.
		{"pod-update-unchanged.json", nil, false},
		{"pod-update-changed.json", []webhook.Image{{Container: "sidecar", Field: "spec.containers[1].image", Reference: "registry.example.com/shop/proxy:v3"}}, false},
		{"pod-delete.json", nil, false},
		{"pod-status.json", nil, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			review, err := webhook.DecodeReview(readReview(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := webhook.ImagesOf(review)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("images\n got %+v\nwant %+v", got, tc.want)
			}
			if webhook.DryRun(review) != tc.dryRun {
				t.Fatalf("dry run: %v", !tc.dryRun)
			}
		})
	}
}

func TestImagesOfRefused(t *testing.T) {
	pod := string(readReview(t, "pod-create.json"))
	for _, tc := range []struct {
		name, review, want string
	}{
		{"unknown kind", string(readReview(t, "configmap.json")), "kind v1/ConfigMap is not one the webhook knows"},
		{"unknown version", strings.Replace(string(readReview(t, "deployment.json")), `"version": "v1"`, `"version": "v1beta2"`, 1), "kind apps/v1beta2/Deployment is not one"},
		{"unknown subresource", strings.Replace(pod, `"operation"`, `"subResource": "exec", "operation"`, 1), "subresource exec of v1/Pod is not one the webhook checks"},
		{"ephemeralcontainers of a deployment", strings.Replace(string(readReview(t, "deployment.json")), `"operation"`, `"subResource": "ephemeralcontainers", "operation"`, 1), "subresource ephemeralcontainers of apps/v1/Deployment"},
		{"no object", strings.Replace(pod, `"object": {`, `"x": {`, 1), "no v1/Pod object"},
		{"null object", strings.Replace(pod, `"object": {`, `"object": null, "x": {`, 1), "no v1/Pod object"},
		{"UPDATE without the old object", strings.Replace(string(readReview(t, "pod-update-changed.json")), `"oldObject": {`, `"oldObject": null, "x": {`, 1), "old object: the request has no v1/Pod object"},
		{"object of another shape", strings.Replace(pod, `"containers": [`, `"containers": {"a": [`, 1), ""},
		{"unknown operation", strings.Replace(pod, `"operation": "CREATE"`, `"operation": "PATCH"`, 1), `operation "PATCH"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			review, err := webhook.DecodeReview([]byte(tc.review))
			if err == nil {
				_, err = webhook.ImagesOf(review)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDecodeReviewRefused(t *testing.T) {
	pod := string(readReview(t, "pod-create.json"))
	for _, tc := range []struct {
		name, review, want string
	}{
		{"v1beta1", strings.Replace(pod, "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1), "admissionReviewVersions: [v1]"},
		{"no uid", strings.Replace(pod, `"uid": "u-pod",`, "", 1), "no uid"},
		{"not json", "{", "reading the admission review"},
		{"too large", `{"apiVersion":"` + strings.Repeat("x", webhook.MaxReviewBytes) + `"}`, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.DecodeReview([]byte(tc.review))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzImagesOf feeds hostile reviews to the decoder: it must not panic,
// and what it accepts names no container without a field.
func FuzzImagesOf(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add(readReview(f, e.Name()))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		review, err := webhook.DecodeReview(data)
		if err != nil {
			return
		}
		images, err := webhook.ImagesOf(review)
		if err != nil {
			return
		}
		for _, im := range images {
			if im.Field == "" || !strings.HasSuffix(im.Field, ".image") {
				t.Fatalf("image without a field: %+v", im)
			}
		}
	})
}
