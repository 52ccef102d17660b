package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/webhook"
)

type patchOp struct {
	Op, Path, Value string
}

// mutateReview is testdata/name with REGISTRY the fixture's registry and
// DIGEST its verified image's digest.
func mutateReview(t *testing.T, f *fixture, name string) *admissionv1.AdmissionReview {
	t.Helper()
	data := strings.NewReplacer("REGISTRY", f.reg.host, "DIGEST", f.goodDigest).Replace(string(readReview(t, name)))
	r, err := webhook.DecodeReview([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mutate(t *testing.T, d *webhook.Decider, review *admissionv1.AdmissionReview) ([]patchOp, []string) {
	t.Helper()
	resp := d.Mutate(t.Context(), review, 5*time.Second)
	if resp.UID != review.Request.UID || !resp.Allowed {
		t.Fatalf("uid %q (want %q), allowed %v: Mutate must allow", resp.UID, review.Request.UID, resp.Allowed)
	}
	if resp.Patch == nil {
		if resp.PatchType != nil {
			t.Fatalf("patch type %s without a patch", *resp.PatchType)
		}
		return nil, resp.Warnings
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patch type %v, want JSONPatch", resp.PatchType)
	}
	var ops []patchOp
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	return ops, resp.Warnings
}

func TestMutate(t *testing.T) {
	f := newFixture(t, "unmatched: allow\nexclude: {namespaces: [referee-system]}\n")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	tag := f.reg.host + "/shop/app:demo"
	pinned := tag + "@" + f.goodDigest

	for _, tc := range []struct {
		name     string
		file     string
		want     []patchOp
		warning  string // in the only warning; none: no warning
		requests bool   // the registry is asked
	}{
		// The init container and the container by tag are pinned (one
		// resolution); the one pinned already and the one no rule
		// covers are not.
		{"pod", "mutate-pod.json", []patchOp{
			{"replace", "/spec/initContainers/0/image", pinned},
			{"replace", "/spec/containers/0/image", pinned},
		}, "", true},
		{"deployment", "mutate-deployment.json", []patchOp{{"replace", "/spec/template/spec/containers/0/image", pinned}}, "", true},
		// shop/app has no tag latest: not pinned, and said so; /verify
		// refuses it (TestMutateThenVerify).
		{"unresolvable tag", "mutate-cronjob.json", nil,
			"referee: not pinned: image " + f.reg.host + "/shop/app (container app, spec.jobTemplate.spec.template.spec.containers[0].image): policy \"shop\": ", true},
		// Owned objects came from a template pinned already: patching
		// them would make their owner roll out another, endlessly.
		{"replicaset of a deployment", "mutate-replicaset-owned.json", nil, "", false},
		{"pod of a replicaset", "mutate-pod-owned.json", nil, "", false},
		{"update, images unchanged", "mutate-pod-update-unchanged.json", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.reg.requests.Load()
			ops, warnings := mutate(t, d, mutateReview(t, f, tc.file))
			if got, want := jsonOf(t, ops), jsonOf(t, tc.want); got != want {
				t.Errorf("patch %s, want %s", got, want)
			}
			switch {
			case tc.warning == "" && len(warnings) != 0:
				t.Errorf("warnings %q", warnings)
			case tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tc.warning)):
				t.Errorf("warnings %q, want one with %q", warnings, tc.warning)
			}
			if asked := f.reg.requests.Load() != before; asked != tc.requests {
				t.Errorf("registry asked: %v, want %v", asked, tc.requests)
			}
		})
	}

	// Once latest is there, an image without a tag is pinned to it, spelt out.
	s := testenv.Open(t, f.reg.host+"/shop/app")
	desc, err := s.Resolve(t.Context(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(t.Context(), desc, "latest"); err != nil {
		t.Fatal(err)
	}
	ops, w := mutate(t, d, mutateReview(t, f, "mutate-cronjob.json"))
	if got, want := jsonOf(t, ops), jsonOf(t, []patchOp{{"replace", "/spec/jobTemplate/spec/template/spec/containers/0/image",
		f.reg.host + "/shop/app:latest@" + f.goodDigest}}); got != want || w != nil {
		t.Errorf("image without a tag: patch %s (want %s), warnings %q", got, want, w)
	}

	// Idempotent: the Pod as patched is not patched again.
	pod := podReview(t, admissionv1.Create, "shop", pinned, f.good)
	if ops, w := mutate(t, d, pod); ops != nil || w != nil {
		t.Errorf("pinned images patched: %v %q", ops, w)
	}
	// No patch where nothing is to be verified, or a tag is to be refused.
	for _, tc := range []struct {
		name, ns, extra string
	}{
		{"excluded namespace", "referee-system", "exclude: {namespaces: [referee-system]}\n"},
		{"requireDigest", "shop", "    requireDigest: true\n"},
		{"no rule covers it, unmatched: deny", "other", "    namespaces: [shop]\nunmatched: deny\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.setPolicy(t, tc.extra)
			d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
			before := f.reg.requests.Load()
			if ops, w := mutate(t, d, podReview(t, admissionv1.Create, tc.ns, tag)); ops != nil || w != nil {
				t.Errorf("patched: %v %q", ops, w)
			}
			if f.reg.requests.Load() != before {
				t.Errorf("the registry was asked")
			}
		})
	}
	// Requests Mutate cannot read are allowed unpatched, with a warning.
	if ops, w := mutate(t, d, reviewOf(t, "configmap.json")); ops != nil || len(w) != 1 || !strings.Contains(w[0], "ConfigMap") {
		t.Errorf("configmap: %v %q", ops, w)
	}
}

// TestMutateThenVerify: what /mutate pins, /verify verifies, by that
// digest; a tag /mutate could not resolve, /verify refuses.
func TestMutateThenVerify(t *testing.T) {
	f := newFixture(t, "unmatched: deny\n")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	review := mutateReview(t, f, "mutate-deployment.json")
	ops, _ := mutate(t, d, review)
	if len(ops) != 1 {
		t.Fatalf("patch %v", ops)
	}
	pinnedPod := podReview(t, admissionv1.Create, "shop", ops[0].Value)
	if r := decide(t, d, pinnedPod); !r.Allowed {
		t.Fatalf("pinned image denied: %s", denial(r))
	}
	// The tag moved to the replayed evidence after the pinning: the pinned
	// reference is still the verified digest; the evil one by tag@digest is
	// refused whatever its tag says.
	if r := decide(t, d, podReview(t, admissionv1.Create, "shop", f.reg.host+"/shop/app:demo@"+f.evilDigest)); r.Allowed {
		t.Fatal("the replayed evidence under the verified tag admitted")
	}

	for _, tc := range []struct{ name, image, want string }{
		{"tag not there", f.reg.host + "/shop/app:nope", `policy "shop": resolving`},
		{"registry unreachable", "127.0.0.1:1/shop/app:v1", "127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.setPolicy(t, "unmatched: deny\n")
			src := "policies:\n  - name: shop\n    images: [\"" + f.reg.host + "/shop/**\", \"127.0.0.1:1/**\"]\n    layoutKeys: [owner.pub]\n"
			p, err := webhook.ParsePolicy([]byte(src), f.dir)
			if err != nil {
				t.Fatal(err)
			}
			d := webhook.NewDecider(p, webhook.DeciderOptions{})
			review := podReview(t, admissionv1.Create, "shop", tc.image)
			ops, w := mutate(t, d, review)
			if ops != nil || len(w) != 1 || !strings.Contains(w[0], tc.want) {
				t.Fatalf("mutate: patch %v, warnings %q, want none and one with %q", ops, w, tc.want)
			}
			r := decide(t, d, review)
			if r.Allowed || !strings.Contains(denial(r), tc.want) {
				t.Fatalf("verify: allowed %v, %q, want refused with %q", r.Allowed, denial(r), tc.want)
			}
		})
	}
}

func reviewOf(t *testing.T, name string) *admissionv1.AdmissionReview {
	t.Helper()
	r, err := webhook.DecodeReview(readReview(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
