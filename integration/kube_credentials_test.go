//go:build integration

package integration_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKubeCredentials: the webhook reaches a registry with the workload's
// own credentials (issue 12, "Registry credentials"). docker-registry 2.8
// with htpasswd holds `referee demo`'s supply chain (pushed with alice's
// credentials); `referee webhook serve --kubeconfig` reads Secrets and
// ServiceAccounts from a real kube-apiserver as the webhook's own
// ServiceAccount under deploy/rbac.yaml (get, nothing else), and its own
// docker config is empty. In order:
//
//   - a Pod without pull secrets is refused, the registry's 401 named;
//   - the same Pod with imagePullSecrets naming a kubernetes.io/dockerconfigjson
//     Secret (kubectl create secret docker-registry) is admitted;
//   - that verified digest is then admitted without pull secrets too (the
//     decision is about the image's content; pulling is the kubelet's),
//     but the image by tag is refused (a tag is resolved with the
//     request's own credentials);
//   - a Pod by tag, and a Deployment by tag, whose ServiceAccount lists
//     the Secret are admitted; a Deployment without is refused;
//   - a pull secret that does not exist is skipped (the registry's 401
//     refuses the Pod, not the missing Secret);
//   - the replayed evidence, readable with the Secret, is refused naming
//     step "push";
//   - once the webhook may no longer read ServiceAccounts (its
//     ClusterRoleBinding deleted), a Pod that needs the registry is
//     refused naming what could not be read: fail closed.
func TestKubeCredentials(t *testing.T) {
	t.Parallel()
	start := time.Now()
	k := startKube(t, kubeOptions{})
	dir := t.TempDir()
	root := repoRoot(t)

	// docker-registry with alice's htpasswd (testdata/registry/htpasswd,
	// see TestRegistryLogin), and the demo pushed with her credentials.
	const user, password = "alice", "correct horse battery staple"
	host, _ := dockerRegistryWith(t, dockerOptions{htpasswd: filepath.Join(filepath.Dir(confDir), "registry", "htpasswd")})
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	alice := filepath.Join(dir, "alice", "config.json")
	writeFile(t, alice, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth))
	none := filepath.Join(dir, "none", "config.json")
	writeFile(t, none, "{}")
	repo := host + "/shop/app"
	good, tag, evil := demo(t, filepath.Join(dir, "shop"), repo, "--registry-config", alice), repo+":demo", repo+":evil"
	if r := referee(t, "", "verify", good, "--layout-key", filepath.Join(dir, "shop", "owner.pub"), "--registry-config", none); r.code == 0 {
		t.Fatalf("the registry lets referee verify %s without credentials:\n%s", good, r)
	}

	// The webhook's identity, as deploy/ makes it, and a kubeconfig with a
	// token of that ServiceAccount.
	k.namespace(t, "referee-system")
	k.mustKubectl(t, "", "apply", "-f", filepath.Join(root, "deploy", "serviceaccount.yaml"), "-f", filepath.Join(root, "deploy", "rbac.yaml"))
	token := strings.TrimSpace(k.mustKubectl(t, "", "create", "token", "referee-webhook", "-n", "referee-system", "--duration", "1h").stdout)
	kubeconfig := filepath.Join(dir, "webhook.kubeconfig")
	writeFile(t, kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: referee-test
  cluster: {server: %s, certificate-authority: %s}
users:
- name: referee-webhook
  user: {token: %s}
contexts:
- name: referee-test
  context: {cluster: referee-test, user: referee-webhook}
current-context: referee-test
`, yq(k.url), yq(k.caFile), yq(token)))

	policy := filepath.Join(dir, "policy.yaml")
	writeFile(t, policy, fmt.Sprintf(`policies:
  - name: shop
    images: [%q]
    layoutKeys: [shop/owner.pub]
unmatched: deny
`, host+"/shop/**"))
	wh := startRefereeWebhook(t, dir, policy, "--kubeconfig", kubeconfig, "--registry-config", none)

	// The workload's namespace: the Secret, as kubectl makes it, and a
	// ServiceAccount that lists it.
	k.namespace(t, "shop")
	k.mustKubectl(t, "", "create", "secret", "docker-registry", "regcred", "-n", "shop",
		"--docker-server="+host, "--docker-username="+user, "--docker-password="+password)
	k.apply(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: puller\n  namespace: shop\nimagePullSecrets:\n- name: regcred\n")
	k.apply(t, admissionYAML("referee", wh.url+"/verify", wh.ca, []string{"shop"}))
	k.waitDenied(t, podYAML("shop", "probe", host+"/elsewhere/app:1"))
	t.Logf("webhook serving after %s", time.Since(start).Round(time.Millisecond))

	unauthorized := "registry " + host + " answered 401 Unauthorized: none of the workload's imagePullSecrets, its service account's or the webhook's own docker config has credentials it accepts"
	admit := func(what string, r result) {
		t.Helper()
		if r.code != 0 {
			t.Errorf("%s: refused, want admitted\n%s", what, r)
		}
	}
	create := func(manifest string) result { return k.kubectl(t, manifest, "create", "-f", "-") }

	wantRefused(t, "Pod without pull secrets", create(podYAML("shop", "bare", good)), "image "+good, `policy "shop"`, unauthorized)
	admit("Pod with imagePullSecrets", create(withPullSecret(podYAML("shop", "pulling", good), "  ", "regcred")))
	admit("the verified digest, without pull secrets", create(podYAML("shop", "bare", good)))
	wantRefused(t, "the tag, without pull secrets", create(podYAML("shop", "bare-tag", tag)), "image "+tag, unauthorized)
	admit("Pod by tag of the ServiceAccount with the Secret", create(withServiceAccount(podYAML("shop", "sa-tag", tag), "  ", "puller")))
	admit("Deployment by tag of the ServiceAccount with the Secret",
		k.kubectl(t, withServiceAccount(deploymentYAML("shop", "sa", tag), "      ", "puller"), "apply", "-f", "-"))
	wantRefused(t, "Deployment by tag without", k.kubectl(t, deploymentYAML("shop", "bare", tag), "apply", "-f", "-"),
		"spec.template.spec.containers[0].image", unauthorized)
	wantRefused(t, "Pod naming a Secret that does not exist", create(withPullSecret(podYAML("shop", "missing", tag), "  ", "nosuch")), unauthorized)
	wantRefused(t, "replayed evidence, with the Secret", create(withPullSecret(podYAML("shop", "evil", evil), "  ", "regcred")),
		"image "+evil, `step "push"`)

	// The webhook loses its right to read ServiceAccounts and Secrets:
	// what needs the registry is refused, naming the object.
	k.mustKubectl(t, "", "delete", "clusterrolebinding", "referee-webhook")
	want := `registry credentials: reading service account shop/default: serviceaccounts "default" is forbidden`
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := k.kubectl(t, withPullSecret(podYAML("shop", "forbidden", tag), "  ", "regcred"), "create", "--dry-run=server", "-f", "-")
		if r.code != 0 && strings.Contains(r.stderr, want) {
			t.Logf("without RBAC: %s", strings.TrimSpace(r.stderr))
			break
		}
		if r.code == 0 || time.Now().After(deadline) {
			t.Fatalf("without RBAC: want refused with %q\n%s", want, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Logf("credentials end to end in %s", time.Since(start).Round(time.Millisecond))
}

// withPullSecret adds imagePullSecrets naming secret to the Pod spec of
// manifest whose fields are indented by indent (the line "containers:").
func withPullSecret(manifest, indent, secret string) string {
	return strings.Replace(manifest, "\n"+indent+"containers:\n", "\n"+indent+"imagePullSecrets:\n"+indent+"- name: "+secret+"\n"+indent+"containers:\n", 1)
}

// withServiceAccount sets the Pod spec's serviceAccountName.
func withServiceAccount(manifest, indent, sa string) string {
	return strings.Replace(manifest, "\n"+indent+"containers:\n", "\n"+indent+"serviceAccountName: "+sa+"\n"+indent+"containers:\n", 1)
}
