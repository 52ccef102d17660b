//go:build integration

package integration_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKubeMutate runs /mutate and /verify of `referee webhook serve` behind
// a real kube-apiserver, a MutatingWebhookConfiguration and a
// ValidatingWebhookConfiguration both registered (issue 12, "Tags"):
//
//   - a Deployment applied by tag is stored pinned (tag@digest), and
//     applying the same manifest again (kubectl sends the tag again) is
//     pinned to the same digest: no new generation, no rollout;
//   - a Pod by tag is admitted pinned;
//   - a ReplicaSet with an ownerReference (as a Deployment's controller
//     would make it: there is no controller-manager here) is admitted as
//     it is, its tag not patched;
//   - a Pod by a tag of an unreachable registry is refused, by /verify,
//     the mutating webhook having let it through unpinned.
func TestKubeMutate(t *testing.T) {
	t.Parallel()
	k := startKube(t, kubeOptions{})
	dir := t.TempDir()
	_, host := startRefereeRegistry(t, dir)
	repo := host + "/shop/app"
	good := demo(t, filepath.Join(dir, "shop"), repo)
	tag := repo + ":demo"
	pinned := tag + "@" + digestOf(good)
	if d := manifestDigest(t, host, "shop/app", "demo"); d != digestOf(good) {
		t.Fatalf("tag demo is %s, the verified image %s", d, good)
	}
	const unreachable = "127.0.0.1:1/shop/app:v1"

	policy := filepath.Join(dir, "policy.yaml")
	writeFile(t, policy, fmt.Sprintf(`policies:
  - name: shop
    images: [%q, "127.0.0.1:1/**"]
    layoutKeys: [shop/owner.pub]
unmatched: deny
exclude: {namespaces: [referee-system]}
`, host+"/shop/**"))
	wh := startRefereeWebhook(t, dir, policy)
	k.apply(t, admissionYAML("referee", wh.url+"/verify", wh.ca, []string{"shop"}))
	k.apply(t, mutatingYAML("referee", wh.url+"/mutate", wh.ca, []string{"shop"}))
	k.namespace(t, "shop")
	// Both webhooks loaded: a dry run of a Pod by tag comes back pinned.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := k.kubectl(t, podYAML("shop", "probe", tag), "create", "--dry-run=server", "-f", "-", "-o", "jsonpath={.spec.containers[0].image}")
		if r.code == 0 && r.stdout == pinned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pinned dry run within 30s:\n%s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	image := func(kind, name, field string) string {
		t.Helper()
		return k.mustKubectl(t, "", "get", kind, name, "-n", "shop", "-o", "jsonpath={"+field+"}").stdout
	}

	// A Deployment by tag: stored pinned; applied again, unchanged.
	deployment := deploymentYAML("shop", "shop", tag)
	k.apply(t, deployment)
	if got := image("deployment", "shop", ".spec.template.spec.containers[0].image"); got != pinned {
		t.Fatalf("deployment stored with image %q, want %q", got, pinned)
	}
	before := wh.metrics(t)
	k.apply(t, deployment)
	if got := image("deployment", "shop", ".metadata.generation"); got != "1" {
		t.Errorf("applying the same manifest again made generation %s: a rollout", got)
	}
	if got := image("deployment", "shop", ".spec.template.spec.containers[0].image"); got != pinned {
		t.Errorf("deployment applied again has image %q, want %q", got, pinned)
	}
	// kubectl apply sends the manifest's tag again (the live object
	// differs from it): /mutate pins it to the same digest, so the
	// template is what it was and nothing rolls out.
	after := wh.metrics(t)
	if after[pinnedAnswers] != before[pinnedAnswers]+1 {
		t.Errorf("applying the same manifest again: pinned answers %v -> %v, want one more", before[pinnedAnswers], after[pinnedAnswers])
	}

	// A Pod by tag: admitted pinned.
	k.mustKubectl(t, podYAML("shop", "tagged", tag), "create", "-f", "-")
	if got := image("pod", "tagged", ".spec.containers[0].image"); got != pinned {
		t.Fatalf("pod stored with image %q, want %q", got, pinned)
	}

	// A ReplicaSet the Deployment owns (made here, as no controller runs):
	// admitted (/verify resolves its tag) and not patched.
	uid := image("deployment", "shop", ".metadata.uid")
	before = wh.metrics(t)
	k.mustKubectl(t, fmt.Sprintf(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: shop-owned
  namespace: shop
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: shop, uid: %s, controller: true, blockOwnerDeletion: true}
spec:
  replicas: 1
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
      - name: app
        image: %s
`, uid, tag), "create", "-f", "-")
	if got := image("replicaset", "shop-owned", ".spec.template.spec.containers[0].image"); got != tag {
		t.Errorf("owned replicaset stored with image %q, want %q as written", got, tag)
	}
	after = wh.metrics(t)
	if after[unpinnedAnswers] != before[unpinnedAnswers]+1 || after[pinnedAnswers] != before[pinnedAnswers] {
		t.Errorf("owned replicaset: /mutate answers before %v, after %v; want one unpinned", before, after)
	}

	// A tag of a registry that does not answer: /mutate lets it through
	// unpinned, /verify refuses it.
	r := k.kubectl(t, podYAML("shop", "unreachable", unreachable), "create", "-f", "-")
	if want := webhookDenied + "image " + unreachable; r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("pod of an unreachable registry: want refused with %q\n%s", want, r)
	}
	t.Logf("pod of an unreachable registry: %s", strings.TrimSpace(r.stderr))
	if r := k.kubectl(t, "", "get", "pod", "unreachable", "-n", "shop"); r.code == 0 {
		t.Errorf("the refused pod exists:\n%s", r)
	}
}

// Samples of /metrics for /mutate's answers.
const (
	pinnedAnswers   = `referee_webhook_requests_total{outcome="pinned"}`
	unpinnedAnswers = `referee_webhook_requests_total{outcome="unpinned"}`
)

// mutatingYAML is the MutatingWebhookConfiguration beside admissionYAML's
// validating one: the same rules, namespaces, failurePolicy, sideEffects
// and timeout, calling url (/mutate), never reinvoked (a pinned image is
// not pinned again anyway).
func mutatingYAML(name, url string, caPEM []byte, namespaces []string) string {
	y := admissionYAML(name, url, caPEM, namespaces)
	y = strings.Replace(y, "kind: ValidatingWebhookConfiguration", "kind: MutatingWebhookConfiguration", 1)
	y = strings.Replace(y, "- name: verify.referee.dev", "- name: mutate.referee.dev", 1)
	return y + "  reinvocationPolicy: Never\n"
}
