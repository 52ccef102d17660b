//go:build integration

package integration_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// TestKubeDeploy applies deploy/ (kubectl apply --server-side -k) to a real
// kube-apiserver, which validates every object (no kubelet runs the
// Deployment), and checks what was stored is what issue 12 asks for: the
// webhook configuration (failurePolicy Fail, sideEffects None, v1 reviews,
// the Service's /verify, every workload resource including
// pods/ephemeralcontainers, referee-system left out), the Deployment (2
// replicas, HTTPS probes, a locked-down container, policy and certificate
// mounted as files), the Service, the PodDisruptionBudget and RBAC (asked of
// the apiserver as the webhook's ServiceAccount). Then: a Pod outside
// referee-system is refused while no webhook answers, one inside is
// admitted; deploy/gen-certs.sh writes a Secret whose certificate the
// caBundle it patches verifies for the Service's name, a second apply keeps
// that caBundle; and `referee webhook serve` with the Deployment's own
// arguments, the ConfigMap's policy and the Secret's files gets ready and is
// trusted under that name.
func TestKubeDeploy(t *testing.T) {
	t.Parallel()
	tool(t, "openssl")
	k := startKube(t, kubeOptions{})
	deployDir := filepath.Join(repoRoot(t), "deploy")

	// Every manifest is in the kustomization, so that -k applies them all.
	var kz struct {
		Resources []string `yaml:"resources"`
	}
	unmarshalYAML(t, readFile(t, filepath.Join(deployDir, "kustomization.yaml")), &kz)
	manifests, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range manifests {
		if b := filepath.Base(m); b != "kustomization.yaml" && !slices.Contains(kz.Resources, b) {
			t.Errorf("deploy/%s is not in kustomization.yaml's resources %v", b, kz.Resources)
		}
	}

	r := k.mustKubectl(t, "", "apply", "--server-side", "-k", deployDir)
	t.Logf("kubectl apply --server-side -k deploy/:\n%s", strings.TrimSpace(r.stdout))

	// The webhook configuration.
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	k.getJSON(t, &vwc, "validatingwebhookconfiguration", "referee")
	if len(vwc.Webhooks) != 1 {
		t.Fatalf("ValidatingWebhookConfiguration referee has %d webhooks, want 1", len(vwc.Webhooks))
	}
	wh := vwc.Webhooks[0]
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	check("webhook name", wh.Name, "verify.referee.dev")
	check("failurePolicy", deref(wh.FailurePolicy), admissionregistrationv1.Fail)
	check("sideEffects", deref(wh.SideEffects), admissionregistrationv1.SideEffectClassNone)
	check("admissionReviewVersions", wh.AdmissionReviewVersions, []string{"v1"})
	check("timeoutSeconds", deref(wh.TimeoutSeconds), 10)
	if s := wh.ClientConfig.Service; s == nil || wh.ClientConfig.URL != nil {
		t.Errorf("clientConfig: %+v, want the Service", wh.ClientConfig)
	} else {
		check("clientConfig.service", fmt.Sprintf("%s/%s:%d%s", s.Namespace, s.Name, deref(s.Port), deref(s.Path)), "referee-system/referee-webhook:443/verify")
	}
	// The mutating webhook: /mutate on the same Service, the same
	// namespaces, failing closed, never reinvoked.
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	k.getJSON(t, &mwc, "mutatingwebhookconfiguration", "referee")
	if len(mwc.Webhooks) != 1 {
		t.Fatalf("MutatingWebhookConfiguration referee has %d webhooks, want 1", len(mwc.Webhooks))
	}
	mw := mwc.Webhooks[0]
	check("mutating webhook name", mw.Name, "pin.referee.dev")
	check("mutating failurePolicy", deref(mw.FailurePolicy), admissionregistrationv1.Fail)
	check("mutating sideEffects", deref(mw.SideEffects), admissionregistrationv1.SideEffectClassNone)
	check("mutating reinvocationPolicy", deref(mw.ReinvocationPolicy), admissionregistrationv1.NeverReinvocationPolicy)
	if s := mw.ClientConfig.Service; s == nil {
		t.Errorf("mutating clientConfig: %+v, want the Service", mw.ClientConfig)
	} else {
		check("mutating clientConfig.service", fmt.Sprintf("%s/%s:%d%s", s.Namespace, s.Name, deref(s.Port), deref(s.Path)), "referee-system/referee-webhook:443/mutate")
	}
	asJSON := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	check("mutating rules", asJSON(mw.Rules), asJSON(wh.Rules))
	check("mutating namespaceSelector", asJSON(mw.NamespaceSelector), asJSON(wh.NamespaceSelector))

	covered := map[string]bool{}
	for _, rule := range wh.Rules {
		if !slices.Contains(rule.Operations, admissionregistrationv1.Create) || !slices.Contains(rule.Operations, admissionregistrationv1.Update) {
			t.Errorf("rule %v: operations %v, want CREATE and UPDATE", rule.Resources, rule.Operations)
		}
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				if slices.Contains(rule.APIVersions, "v1") {
					covered[g+"/"+res] = true
				}
			}
		}
	}
	for _, want := range []string{"/pods", "/pods/ephemeralcontainers", "apps/deployments", "apps/replicasets", "apps/statefulsets",
		"apps/daemonsets", "batch/jobs", "batch/cronjobs"} {
		if !covered[want] {
			t.Errorf("no rule covers %s v1 (rules cover %v)", want, covered)
		}
	}
	excluded := false
	if sel := wh.NamespaceSelector; sel != nil {
		for _, e := range sel.MatchExpressions {
			excluded = excluded || e.Key == corev1.LabelMetadataName && e.Operator == "NotIn" && slices.Contains(e.Values, "referee-system")
		}
	}
	if !excluded {
		t.Errorf("namespaceSelector %+v does not leave referee-system out", wh.NamespaceSelector)
	}

	// The Deployment.
	var dep appsv1.Deployment
	k.getJSON(t, &dep, "deployment", "referee-webhook", "-n", "referee-system")
	check("replicas", deref(dep.Spec.Replicas), 2)
	pod := dep.Spec.Template.Spec
	check("serviceAccountName", pod.ServiceAccountName, "referee-webhook")
	if len(pod.Containers) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	check("image", c.Image, "ghcr.io/referee-dev/referee:VERSION")
	wantArgs := []string{"webhook", "serve", "--policy", "/etc/referee/policy.yaml", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key", "--addr", ":8443"}
	check("args", c.Args, wantArgs)
	for name, p := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: %+v, want an HTTPS GET", name, p)
			continue
		}
		want := map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"}[name]
		port := p.HTTPGet.Port.String()
		if port == "https" {
			port = "8443" // the container's port of that name
		}
		check(name, fmt.Sprintf("%s %s :%s", p.HTTPGet.Scheme, p.HTTPGet.Path, port), fmt.Sprintf("HTTPS %s :8443", want))
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "https" && p.ContainerPort == 8443 }) {
		t.Errorf("container ports %+v, want https 8443", c.Ports)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v, want cpu and memory requests and a memory limit", c.Resources)
	}
	sc := c.SecurityContext
	if sc == nil || !deref(sc.ReadOnlyRootFilesystem) || deref(sc.AllowPrivilegeEscalation) || sc.Capabilities == nil || fmt.Sprint(sc.Capabilities.Drop) != "[ALL]" {
		t.Errorf("container securityContext %+v, want a read-only root, no privilege escalation, capabilities [ALL] dropped", sc)
	}
	if (sc == nil || !deref(sc.RunAsNonRoot)) && (pod.SecurityContext == nil || !deref(pod.SecurityContext.RunAsNonRoot)) {
		t.Errorf("neither the Pod nor the container sets runAsNonRoot")
	}
	mounts := map[string]string{} // mount path -> what
	for _, m := range c.VolumeMounts {
		i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			t.Errorf("volume mount %s: no volume %s", m.MountPath, m.Name)
			continue
		}
		switch v := pod.Volumes[i]; {
		case v.ConfigMap != nil:
			mounts[m.MountPath] = "configmap " + v.ConfigMap.Name
		case v.Secret != nil:
			mounts[m.MountPath] = "secret " + v.Secret.SecretName
		case v.EmptyDir != nil:
			mounts[m.MountPath] = "emptyDir"
		}
	}
	check("the policy's mount", mounts["/etc/referee"], "configmap referee-policy")
	check("the certificate's mount", mounts["/tls"], "secret referee-webhook-tls")

	// The Service and the PodDisruptionBudget select the Deployment's Pods.
	labels := dep.Spec.Template.Labels
	selects := func(sel map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	var svc corev1.Service
	k.getJSON(t, &svc, "service", "referee-webhook", "-n", "referee-system")
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.String() != "8443" {
		t.Errorf("service ports %+v, want 443 -> 8443", svc.Spec.Ports)
	}
	if !selects(svc.Spec.Selector) {
		t.Errorf("service selector %v does not select the Deployment's Pods (labels %v)", svc.Spec.Selector, labels)
	}
	var pdb policyv1.PodDisruptionBudget
	k.getJSON(t, &pdb, "poddisruptionbudget", "referee-webhook", "-n", "referee-system")
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels) || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.String() != "1" {
		t.Errorf("PodDisruptionBudget %+v, want minAvailable 1 of the Deployment's Pods", pdb.Spec)
	}

	// RBAC, as the apiserver decides it for the webhook's ServiceAccount.
	const sa = "system:serviceaccount:referee-system:referee-webhook"
	for _, q := range []struct {
		verb, resource string
		want           string
	}{
		{"get", "secrets", "yes"}, {"list", "secrets", "no"}, {"watch", "secrets", "no"},
		{"get", "serviceaccounts", "yes"}, {"list", "serviceaccounts", "no"}, {"watch", "serviceaccounts", "no"},
		{"create", "secrets", "no"}, {"update", "serviceaccounts", "no"}, {"delete", "pods", "no"}, {"list", "configmaps", "no"},
	} {
		r := k.kubectl(t, "", "auth", "can-i", q.verb, q.resource, "--all-namespaces", "--as", sa)
		check(fmt.Sprintf("can %s %s %s cluster-wide", sa, q.verb, q.resource), strings.TrimSpace(r.stdout), q.want)
	}

	// With no webhook answering (no kubelet runs it), failurePolicy Fail
	// refuses a Pod in any namespace but referee-system.
	k.namespace(t, "shop")
	k.mustKubectl(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\n  namespace: referee-system\n", "apply", "-f", "-")
	// The mutating webhook is called first; either refuses.
	const calling = `failed calling webhook "`
	deadline := time.Now().Add(30 * time.Second)
	for { // the apiserver loads a new configuration asynchronously
		r = k.kubectl(t, podYAML("shop", "app", "registry.example/shop/app:1"), "create", "--dry-run=server", "-f", "-")
		if r.code != 0 && strings.Contains(r.stderr, calling) {
			t.Logf("Pod in shop, no webhook running: %s", strings.TrimSpace(r.stderr))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Pod in shop with no webhook running: want refused with %q\n%s", calling, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	k.mustKubectl(t, podYAML("referee-system", "app", "registry.example/shop/app:1"), "create", "-f", "-")

	// gen-certs.sh: the Secret and the caBundle.
	certDir := t.TempDir()
	r = exeIO(t, runIO{env: []string{"KUBECONFIG=" + k.kubeconfig}}, "bash", filepath.Join(deployDir, "gen-certs.sh"), certDir)
	if r.code != 0 {
		t.Fatalf("gen-certs.sh:\n%s", r)
	}
	t.Logf("gen-certs.sh: %s", strings.TrimSpace(r.out()))
	var secret corev1.Secret
	k.getJSON(t, &secret, "secret", "referee-webhook-tls", "-n", "referee-system")
	check("secret type", secret.Type, corev1.SecretTypeTLS)
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if want := readFile(t, filepath.Join(certDir, f)); string(secret.Data[f]) != want {
			t.Errorf("secret's %s is not the %s gen-certs.sh wrote", f, f)
		}
	}
	const host = "referee-webhook.referee-system.svc"
	verifyBundle := func(what string) {
		t.Helper()
		k.getJSON(t, &vwc, "validatingwebhookconfiguration", "referee")
		bundle := vwc.Webhooks[0].ClientConfig.CABundle
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(bundle) {
			t.Fatalf("%s: caBundle holds no certificate: %q", what, bundle)
		}
		block, _ := pem.Decode(secret.Data["tls.crt"])
		if block == nil {
			t.Fatalf("secret's tls.crt is not PEM")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: the caBundle does not verify the Secret's certificate for %s: %v", what, host, err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: "elsewhere.referee-system.svc", Roots: roots}); err == nil {
			t.Errorf("%s: the certificate is valid for another name", what)
		}
	}
	verifyBundle("after gen-certs.sh")
	if _, err := tls.X509KeyPair(secret.Data["tls.crt"], secret.Data["tls.key"]); err != nil {
		t.Errorf("the Secret's tls.key is not tls.crt's: %v", err)
	}
	// With no configuration to patch (the webhook's applied last), it
	// writes the Secret and says so, exit 1.
	r = exeIO(t, runIO{env: []string{"KUBECONFIG=" + k.kubeconfig, "WEBHOOK=absent", "SECRET=referee-webhook-tls-2"}}, "bash", filepath.Join(deployDir, "gen-certs.sh"))
	if r.code != 1 || !strings.Contains(r.stderr, "no webhook configuration absent yet") {
		t.Errorf("gen-certs.sh with no configuration: want exit 1 saying so\n%s", r)
	}
	k.mustKubectl(t, "", "get", "secret", "referee-webhook-tls-2", "-n", "referee-system")

	// Applying deploy/ again (an upgrade) keeps the caBundle: server-side
	// apply removes only fields its manager set.
	k.mustKubectl(t, "", "apply", "--server-side", "-k", deployDir)
	verifyBundle("after a second apply")

	// The Deployment's container, run here: its arguments, the ConfigMap's
	// policy (the placeholder key replaced by a real one) and the Secret's
	// files make a webhook that gets ready, trusted under the Service's name.
	var cm corev1.ConfigMap
	k.getJSON(t, &cm, "configmap", "referee-policy", "-n", "referee-system")
	root := t.TempDir()
	etc, tlsDir := filepath.Join(root, "etc", "referee"), filepath.Join(root, "tls")
	mkdirs(t, etc, tlsDir)
	for f, v := range cm.Data {
		writeFile(t, filepath.Join(etc, f), v)
	}
	for f, v := range secret.Data {
		writeFile(t, filepath.Join(tlsDir, f), string(v))
	}
	policy := filepath.Join(etc, "policy.yaml")
	if r := referee(t, "", "webhook", "check-config", policy); r.code != 2 || !strings.Contains(r.stderr, ".pub") {
		t.Errorf("check-config of the ConfigMap's placeholder key: want exit 2 naming a placeholder key file\n%s", r)
	}
	for f := range cm.Data {
		if strings.HasSuffix(f, ".pub") {
			if err := os.Remove(filepath.Join(etc, f)); err != nil {
				t.Fatal(err)
			}
			must(t, etc, refereeBin, "keygen", strings.TrimSuffix(f, ".pub"))
		}
	}
	if r := referee(t, "", "webhook", "check-config", policy); r.code != 0 {
		t.Fatalf("check-config of the ConfigMap's policy with a real key:\n%s", r)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(vwc.Webhooks[0].ClientConfig.CABundle)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host}}}
	for attempt := 0; ; attempt++ {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		args := make([]string, len(c.Args))
		for i, a := range c.Args {
			a = strings.Replace(a, "/etc/referee/", etc+"/", 1)
			a = strings.Replace(a, "/tls/", tlsDir+"/", 1)
			args[i] = map[bool]string{true: addr, false: a}[a == ":8443"]
		}
		_, err := startProcess(t, filepath.Join(root, fmt.Sprintf("webhook-%d.log", attempt)), func() bool {
			resp, err := client.Get("https://" + addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, refereeBin, args...)
		if err == nil {
			t.Logf("referee %s: ready, trusted as %s", strings.Join(args, " "), host)
			break
		}
		if attempt == 2 {
			t.Fatalf("referee webhook serve with the Deployment's arguments: %v", err)
		}
	}
}

// getJSON decodes `kubectl get ARGS -o json` into v.
func (k *kube) getJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	r := k.mustKubectl(t, "", append(append([]string{"get"}, args...), "-o", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("kubectl get %s: %v", strings.Join(args, " "), err)
	}
}

func unmarshalYAML(t *testing.T, s string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(s), v); err != nil {
		t.Fatal(err)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// repoRoot is the repository's root directory (integration/..).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}
