package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/referee-dev/referee/demo"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/webhook"
)

const user, password = "alice", "correct horse battery staple"

// lockedFixture is the demo's supply chain (HOST/shop/app: demo verified,
// evil the replayed evidence) in go-containerregistry's registry behind
// basic auth: alice's password, or 401 with a Basic challenge, as
// docker-registry with htpasswd answers.
type lockedFixture struct {
	host, good, evil, tag string
	dir                   string
	policy                *webhook.Policy
	requests              atomic.Int64
	delay                 atomic.Int64 // a time.Duration added to every request
}

func newLockedFixture(t testing.TB) *lockedFixture {
	t.Helper()
	f := &lockedFixture{dir: t.TempDir()}
	var locked atomic.Bool
	reg := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		time.Sleep(time.Duration(f.delay.Load()))
		if u, p, ok := r.BasicAuth(); locked.Load() && (!ok || u != user || p != password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="referee-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.host = strings.TrimPrefix(srv.URL, "http://")
	image, err := demo.Run(t.Context(), demo.Options{Dir: f.dir, Registry: f.host + "/shop/app", Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	f.good, f.tag = image, f.host+"/shop/app:demo"
	desc, err := testenv.Open(t, f.host+"/shop/app").Resolve(t.Context(), "evil")
	if err != nil {
		t.Fatal(err)
	}
	f.evil = f.host + "/shop/app@" + desc.Digest.String()
	locked.Store(true)
	src := fmt.Sprintf("policies:\n  - name: shop\n    images: [\"%s/shop/**\"]\n    layoutKeys: [owner.pub]\n", f.host)
	if f.policy, err = webhook.ParsePolicy([]byte(src), f.dir); err != nil {
		t.Fatal(err)
	}
	return f
}

// kubeObjects is an apiserver's Secrets and ServiceAccounts in memory,
// answering as the apiserver does (a NotFound status error for a missing
// object), with faults by object; it counts the reads.
type kubeObjects struct {
	mu      sync.Mutex
	secrets map[string]*corev1.Secret         // namespace/name
	sas     map[string]*corev1.ServiceAccount // namespace/name
	faults  map[string]error                  // "secret ns/name" or "serviceaccount ns/name"
	block   chan struct{}                     // reads wait for it (or their context) when not nil
	reads   atomic.Int64
}

func newKubeObjects() *kubeObjects {
	return &kubeObjects{secrets: map[string]*corev1.Secret{}, sas: map[string]*corev1.ServiceAccount{}, faults: map[string]error{}}
}

func (k *kubeObjects) read(ctx context.Context, kind, ns, n string) error {
	k.reads.Add(1)
	k.mu.Lock()
	block, err := k.block, k.faults[kind+" "+ns+"/"+n]
	k.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return fmt.Errorf("client rate limiter Wait returned an error: %w", ctx.Err())
		}
	}
	return err
}

func (k *kubeObjects) Secret(ctx context.Context, ns, n string) (*corev1.Secret, error) {
	if err := k.read(ctx, "secret", ns, n); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.secrets[ns+"/"+n]; ok {
		return s.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, n)
}

func (k *kubeObjects) ServiceAccount(ctx context.Context, ns, n string) (*corev1.ServiceAccount, error) {
	if err := k.read(ctx, "serviceaccount", ns, n); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if sa, ok := k.sas[ns+"/"+n]; ok {
		return sa.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, n)
}

// dockerConfigSecret is what kubectl create secret docker-registry makes.
func dockerConfigSecret(ns, n string, auths map[string][2]string) *corev1.Secret {
	cfg := map[string]map[string]map[string]string{"auths": {}}
	for host, up := range auths {
		cfg["auths"][host] = map[string]string{"username": up[0], "password": up[1], "auth": base64.StdEncoding.EncodeToString([]byte(up[0] + ":" + up[1]))}
	}
	data, _ := json.Marshal(cfg)
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
}

// credPod is an AdmissionReview of a Pod in ns running image, with pull
// secrets and a service account.
func credPod(t testing.TB, ns, sa string, image string, secrets ...string) *admissionv1.AdmissionReview {
	t.Helper()
	pod := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
		Spec: corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "app", Image: image}}}}
	for _, s := range secrets {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	return review(t, "v1", "Pod", "pods", ns, pod)
}

// credDeployment is the same as a Deployment's template.
func credDeployment(t testing.TB, ns, sa string, image string, secrets ...string) *admissionv1.AdmissionReview {
	t.Helper()
	d := appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: ns}}
	d.Spec.Template.Spec = corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "app", Image: image}}}
	for _, s := range secrets {
		d.Spec.Template.Spec.ImagePullSecrets = append(d.Spec.Template.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	return review(t, "apps/v1", "Deployment", "deployments", ns, d)
}

func review(t testing.TB, apiVersion, kind, resource, ns string, obj any) *admissionv1.AdmissionReview {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return &admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "uid-1", Kind: metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: kind},
			Resource: metav1.GroupVersionResource{Group: gv.Group, Version: gv.Version, Resource: resource}, Namespace: ns,
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}}}
}

// newCredDecider is a Decider whose requests take their credentials from
// kube (and from o, the webhook's own, last).
func newCredDecider(f *lockedFixture, kube *kubeObjects, o oci.Options) *webhook.Decider {
	return webhook.NewDecider(f.policy, webhook.DeciderOptions{OCI: o,
		RequestOCI: webhook.Credentials{Kube: kube, OCI: o}.RequestOCI})
}

// noOwnConfig is a webhook whose own docker config is empty.
func noOwnConfig(t *testing.T) oci.Options {
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	return oci.Options{RegistryConfig: p}
}

const unauthorized = "answered 401 Unauthorized: none of the workload's imagePullSecrets, its service account's or the webhook's own docker config has credentials it accepts"

func TestCredentials(t *testing.T) {
	f := newLockedFixture(t)
	kube := newKubeObjects()
	for _, ns := range []string{"shop", "other"} {
		kube.secrets[ns+"/regcred"] = dockerConfigSecret(ns, "regcred", map[string][2]string{f.host: {user, password}})
		kube.secrets[ns+"/wrong"] = dockerConfigSecret(ns, "wrong", map[string][2]string{f.host: {user, "wrong"}})
		kube.sas[ns+"/default"] = &corev1.ServiceAccount{}
		kube.sas[ns+"/puller"] = &corev1.ServiceAccount{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}
	}
	kube.secrets["shop/elsewhere"] = dockerConfigSecret("shop", "elsewhere", map[string][2]string{"registry.example.com": {user, password}})
	kube.secrets["shop/opaque"] = &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"` + f.host + `":{"username":"alice","password":"correct horse battery staple"}}}`)}}
	own := noOwnConfig(t)

	// Each case on a Decider of its own: nothing cached.
	for _, tc := range []struct {
		name   string
		review *admissionv1.AdmissionReview
		want   string // in the denial; "": admitted
	}{
		{"Pod with the pull secret", credPod(t, "shop", "", f.good, "regcred"), ""},
		{"Pod by tag with the pull secret", credPod(t, "shop", "", f.tag, "regcred"), ""},
		{"Pod without pull secrets", credPod(t, "shop", "", f.good), unauthorized},
		{"Pod by tag without pull secrets", credPod(t, "shop", "", f.tag), unauthorized},
		{"the right secret after one for another registry", credPod(t, "shop", "", f.good, "elsewhere", "regcred"), ""},
		{"a wrong password first", credPod(t, "shop", "", f.good, "wrong", "regcred"), unauthorized},
		{"a missing pull secret is skipped", credPod(t, "shop", "", f.good, "missing", "regcred"), ""},
		{"only a missing pull secret", credPod(t, "shop", "", f.good, "missing"), unauthorized},
		{"an Opaque secret is no pull secret", credPod(t, "shop", "", f.good, "opaque"), unauthorized},
		{"the service account's pull secret", credPod(t, "shop", "puller", f.good), ""},
		{"a Deployment's service account's pull secret", credDeployment(t, "shop", "puller", f.tag), ""},
		{"a Deployment's own pull secret", credDeployment(t, "shop", "", f.tag, "regcred"), ""},
		{"a Deployment without", credDeployment(t, "shop", "", f.tag), unauthorized},
		{"a missing service account is skipped", credPod(t, "shop", "nobody", f.good, "regcred"), ""},
		{"the secret of another namespace is not read", credPod(t, "third", "", f.good, "regcred"), unauthorized},
		{"replayed evidence, with the pull secret", credPod(t, "shop", "", f.evil, "regcred"), `step "push"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newCredDecider(f, kube, own)
			got := denial(decide(t, d, tc.review))
			switch {
			case tc.want == "" && got != "":
				t.Fatalf("denied: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Fatalf("denial %q, want %q", got, tc.want)
			}
			if tc.want == unauthorized {
				t.Logf("%s", got)
			}
		})
	}

	// The webhook's own docker config comes after the workload's.
	cfg := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	if err := os.WriteFile(cfg, []byte(`{"auths":{"`+f.host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, secrets := range [][]string{nil, {"elsewhere"}} {
		d := newCredDecider(f, kube, oci.Options{RegistryConfig: cfg})
		if r := decide(t, d, credPod(t, "shop", "", f.tag, secrets...)); !r.Allowed {
			t.Fatalf("with the webhook's own config and pull secrets %v: %s", secrets, denial(r))
		}
	}
}

// A workload's pull secrets are matched to a registry as the kubelet
// matches them.
func TestCredentialsKeyMatching(t *testing.T) {
	for _, tc := range []struct {
		key, target string
		match       bool
	}{
		{"registry.example.com", "registry.example.com", true},
		{"https://registry.example.com", "registry.example.com", true},
		{"https://registry.example.com/v1/", "registry.example.com", true},
		{"http://registry.example.com/v2/", "registry.example.com", true},
		{"registry.example.com:5000", "registry.example.com:5000", true},
		{"registry.example.com:5000", "registry.example.com", false},
		{"registry.example.com", "registry.example.com:5000", false},
		{"*.example.com", "registry.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.registry.example.com", false},
		{"registry.example.com/shop", "registry.example.com/shop/app", true},
		{"registry.example.com/shop", "registry.example.com/other/app", false},
		{"registry.example.com/shop", "registry.example.com", false}, // a registry-wide request
		{"https://index.docker.io/v1/", "index.docker.io", true},
		{"docker.io", "index.docker.io", true},
		{"https://index.docker.io/v1/", "registry-1.docker.io", true},
		{"other.example.com", "registry.example.com", false},
		{"%zz://bad", "registry.example.com", false},
	} {
		s := dockerConfigSecret("shop", "regcred", map[string][2]string{tc.key: {user, password}})
		kube := newKubeObjects()
		kube.secrets["shop/regcred"] = s
		kube.sas["shop/default"] = &corev1.ServiceAccount{}
		o, err := webhook.Credentials{Kube: kube, OCI: oci.Options{Keychain: authn.NewMultiKeychain()}}.RequestOCI(t.Context(),
			credPod(t, "shop", "", "registry.example.com/x/y:1", "regcred").Request)
		if err != nil {
			t.Fatal(err)
		}
		var res authn.Resource
		if strings.Contains(tc.target, "/") {
			res, err = name.NewRepository(tc.target)
		} else {
			res, err = name.NewRegistry(tc.target)
		}
		if err != nil {
			t.Fatal(err)
		}
		a, err := o.Keychain.Resolve(res)
		if err != nil {
			t.Fatal(err)
		}
		if got := a != authn.Anonymous; got != tc.match {
			t.Errorf("entry %q for %s: matched %v, want %v", tc.key, tc.target, got, tc.match)
			continue
		}
		if tc.match {
			if cfg, err := a.Authorization(); err != nil || cfg.Username != user || cfg.Password != password {
				t.Errorf("entry %q for %s: %+v, %v", tc.key, tc.target, cfg, err)
			}
		}
	}
}

// The credentials of a request are read only when a registry is to be
// reached, and a verified digest is admitted in every namespace; but a tag
// is resolved with each request's own credentials, a registry error of
// one namespace's is not another's answer, and a "not verified" reason is
// not shown to a namespace that could not read the evidence.
func TestCredentialsCache(t *testing.T) {
	f := newLockedFixture(t)
	kube := newKubeObjects()
	kube.secrets["shop/regcred"] = dockerConfigSecret("shop", "regcred", map[string][2]string{f.host: {user, password}})
	kube.sas["shop/default"] = &corev1.ServiceAccount{}
	kube.sas["other/default"] = &corev1.ServiceAccount{}
	d := newCredDecider(f, kube, noOwnConfig(t))

	if r := decide(t, d, credPod(t, "shop", "", f.good, "regcred")); !r.Allowed {
		t.Fatalf("with the pull secret: %s", denial(r))
	}
	reads, requests := kube.reads.Load(), f.requests.Load()
	if r := decide(t, d, credPod(t, "other", "", f.good)); !r.Allowed {
		t.Fatalf("the verified digest in another namespace, without pull secrets: %s", denial(r))
	}
	if n, m := kube.reads.Load()-reads, f.requests.Load()-requests; n != 0 || m != 0 {
		t.Fatalf("a cached digest read %d objects from the apiserver and made %d registry requests", n, m)
	}
	if msg := denial(decide(t, d, credPod(t, "other", "", f.tag))); !strings.Contains(msg, unauthorized) {
		t.Fatalf("the tag without pull secrets: %q, want the registry's %s", msg, unauthorized)
	}

	// "Not verified" for shop; other, without credentials, is told the
	// registry's 401, not shop's reason.
	if msg := denial(decide(t, d, credPod(t, "shop", "", f.evil, "regcred"))); !strings.Contains(msg, "not verified") {
		t.Fatalf("replayed evidence: %q", msg)
	}
	if msg := denial(decide(t, d, credPod(t, "other", "", f.evil))); !strings.Contains(msg, unauthorized) || strings.Contains(msg, "step") {
		t.Fatalf("replayed evidence in another namespace, without pull secrets: %q, want the registry's %s alone", msg, unauthorized)
	}
	st := d.Stats()

	// Verifications of one digest at once by namespaces without and with
	// credentials, on a registry 50 ms away: other asks first and is
	// refused by the registry; shop, asking while other's verification
	// is under way, has one of its own and is admitted.
	f.delay.Store(int64(50 * time.Millisecond))
	d = newCredDecider(f, kube, noOwnConfig(t))
	var wg sync.WaitGroup
	for i := range 8 {
		ns, secrets := "other", []string(nil)
		if i >= 4 {
			ns, secrets = "shop", []string{"regcred"}
			time.Sleep(20 * time.Millisecond)
		}
		wg.Go(func() {
			r := d.Decide(t.Context(), credPod(t, ns, "", f.good, secrets...), 10*time.Second)
			if msg := denial(r); ns == "shop" && msg != "" || ns == "other" && !strings.Contains(msg, unauthorized) {
				t.Errorf("%s: %q", ns, msg)
			}
		})
	}
	wg.Wait()
	if st := d.Stats(); st.Verifications != 2 {
		t.Errorf("%d verifications of one digest by two sets of credentials, want 2", st.Verifications)
	}
	t.Logf("stats of the first decider %+v, of the concurrent one %+v", st, d.Stats())
}

// An apiserver that cannot be read denies, naming what could not be read;
// a slow one within the request's time.
func TestCredentialsAPIServerErrors(t *testing.T) {
	f := newLockedFixture(t)
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "regcred",
		errors.New(`User "system:serviceaccount:referee-system:referee-webhook" cannot get resource "secrets" in API group "" in the namespace "shop"`))
	for _, tc := range []struct {
		name   string
		fault  string
		err    error
		review *admissionv1.AdmissionReview
		want   string
	}{
		{"secret forbidden", "secret shop/regcred", forbidden, credPod(t, "shop", "", f.good, "regcred"),
			`policy "shop": registry credentials: reading pull secret shop/regcred: secrets "regcred" is forbidden: User`},
		{"service account unavailable", "serviceaccount shop/default", apierrors.NewServiceUnavailable("etcd is down"), credPod(t, "shop", "", f.tag),
			`registry credentials: reading service account shop/default: etcd is down`},
		{"the service account's secret", "secret shop/regcred", apierrors.NewInternalError(errors.New("boom")), credDeployment(t, "shop", "puller", f.good),
			`registry credentials: reading pull secret shop/regcred: Internal error occurred: boom`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kube := newKubeObjects()
			kube.secrets["shop/regcred"] = dockerConfigSecret("shop", "regcred", map[string][2]string{f.host: {user, password}})
			kube.sas["shop/default"] = &corev1.ServiceAccount{}
			kube.sas["shop/puller"] = &corev1.ServiceAccount{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}
			kube.faults[tc.fault] = tc.err
			d := newCredDecider(f, kube, noOwnConfig(t))
			msg := denial(decide(t, d, tc.review))
			if !strings.Contains(msg, "referee: image ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("denial %q, want %q", msg, tc.want)
			}
			if st := d.Stats(); st.Entries != 0 {
				t.Fatalf("an apiserver error was cached: %+v", st)
			}
		})
	}

	t.Run("malformed pull secret", func(t *testing.T) {
		kube := newKubeObjects()
		kube.sas["shop/default"] = &corev1.ServiceAccount{}
		kube.secrets["shop/broken"] = &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte("{not json")}}
		msg := denial(decide(t, newCredDecider(f, kube, noOwnConfig(t)), credPod(t, "shop", "", f.good, "broken")))
		if want := "registry credentials: pull secret shop/broken: its .dockerconfigjson is not a docker config.json"; !strings.Contains(msg, want) {
			t.Fatalf("denial %q, want %q", msg, want)
		}
	})

	t.Run("apiserver too slow", func(t *testing.T) {
		kube := newKubeObjects()
		kube.block = make(chan struct{})
		defer close(kube.block)
		d := newCredDecider(f, kube, noOwnConfig(t))
		start := time.Now()
		resp := d.Decide(t.Context(), credPod(t, "shop", "", f.good, "regcred"), time.Second)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("took %s with a 1s timeout", took)
		}
		if want := "registry credentials: reading service account shop/default: the apiserver did not answer in time"; resp.Allowed || !strings.Contains(denial(resp), want) {
			t.Fatalf("denial %q, want %q", denial(resp), want)
		}
	})
}

// Which credentials a request names, for every kind ImagesOf reads.
func TestPullCredentialsOf(t *testing.T) {
	pod := credPod(t, "shop", "", "x/y:1", "a", "b", "a")
	got, err := webhook.PullCredentialsOf(pod.Request)
	if err != nil {
		t.Fatal(err)
	}
	if got.Namespace != "shop" || got.ServiceAccount != "default" || strings.Join(got.Secrets, ",") != "a,b" {
		t.Fatalf("Pod: %+v", got)
	}
	dep := credDeployment(t, "shop", "puller", "x/y:1", "c")
	if got, err = webhook.PullCredentialsOf(dep.Request); err != nil || got.ServiceAccount != "puller" || strings.Join(got.Secrets, ",") != "c" {
		t.Fatalf("Deployment: %+v, %v", got, err)
	}
	cron := review(t, "batch/v1", "CronJob", "cronjobs", "shop", map[string]any{"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{
		"template": map[string]any{"spec": map[string]any{"serviceAccount": "old", "imagePullSecrets": []any{map[string]any{"name": "d"}}}}}}}})
	if got, err = webhook.PullCredentialsOf(cron.Request); err != nil || got.ServiceAccount != "old" || strings.Join(got.Secrets, ",") != "d" {
		t.Fatalf("CronJob: %+v, %v", got, err)
	}
	debug := credPod(t, "shop", "", "x/y:1", "e")
	debug.Request.SubResource = "ephemeralcontainers"
	if got, err = webhook.PullCredentialsOf(debug.Request); err != nil || strings.Join(got.Secrets, ",") != "e" {
		t.Fatalf("pods/ephemeralcontainers: %+v, %v", got, err)
	}
	bad := review(t, "v1", "ConfigMap", "configmaps", "shop", map[string]any{})
	if _, err := webhook.PullCredentialsOf(bad.Request); err == nil {
		t.Fatal("a ConfigMap has pull credentials")
	}
}

func TestKubeClient(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := webhook.KubeClient(""); !errors.Is(err, webhook.ErrNoCluster) {
		t.Fatalf("outside a cluster: %v, want ErrNoCluster", err)
	}
	missing := filepath.Join(t.TempDir(), "kubeconfig")
	if _, err := webhook.KubeClient(missing); err == nil || !strings.Contains(err.Error(), "kubeconfig "+missing) {
		t.Fatalf("missing kubeconfig: %v", err)
	}
}

// /mutate pins a tag it resolves with the workload's credentials, and
// without them says why it did not.
func TestCredentialsMutate(t *testing.T) {
	f := newLockedFixture(t)
	kube := newKubeObjects()
	kube.secrets["shop/regcred"] = dockerConfigSecret("shop", "regcred", map[string][2]string{f.host: {user, password}})
	kube.sas["shop/default"] = &corev1.ServiceAccount{}
	d := newCredDecider(f, kube, noOwnConfig(t))
	r := d.Mutate(t.Context(), credPod(t, "shop", "", f.tag, "regcred"), 5*time.Second)
	if !r.Allowed || !strings.Contains(string(r.Patch), f.tag+"@sha256:") || len(r.Warnings) != 0 {
		t.Fatalf("with the pull secret: patch %s, warnings %v", r.Patch, r.Warnings)
	}
	r = d.Mutate(t.Context(), credPod(t, "shop", "", f.tag), 5*time.Second)
	if !r.Allowed || r.Patch != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "referee: not pinned: image "+f.tag) || !strings.Contains(r.Warnings[0], unauthorized) {
		t.Fatalf("without: patch %s, warnings %v", r.Patch, r.Warnings)
	}
}

// Whatever the object and its pull secrets, reading them returns or
// fails, and never panics.
func FuzzPullCredentials(f *testing.F) {
	f.Add([]byte(`{"spec":{"serviceAccountName":"sa","imagePullSecrets":[{"name":"a"},{"name":""}],"containers":[{"name":"c","image":"r.example/x:1"}]}}`),
		[]byte(`{"auths":{"r.example":{"auth":"YTpi"},"*.example:5000/p":{"username":"u"}}}`))
	f.Add([]byte(`{"spec":null}`), []byte(`{"auths":{"%zz":{}}}`))
	f.Add([]byte(`[]`), []byte(`{"auths":[]}`))
	f.Fuzz(func(t *testing.T, object, config []byte) {
		kube := newKubeObjects()
		kube.secrets["shop/a"] = &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: config}}
		kube.secrets["shop/b"] = &corev1.Secret{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{corev1.DockerConfigKey: config}}
		kube.sas["shop/sa"] = &corev1.ServiceAccount{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "b"}}}
		req := &admissionv1.AdmissionRequest{Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: "shop",
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: object}}
		if _, err := webhook.PullCredentialsOf(req); err != nil {
			return
		}
		o, err := webhook.Credentials{Kube: kube, OCI: oci.Options{Keychain: authn.NewMultiKeychain()}}.RequestOCI(t.Context(), req)
		if err != nil || o.Keychain == nil {
			return
		}
		for _, target := range []string{"r.example", "a.example:5000", "index.docker.io"} {
			reg, err := name.NewRegistry(target)
			if err != nil {
				t.Fatal(err)
			}
			if a, err := o.Keychain.Resolve(reg); err == nil {
				_, _ = a.Authorization()
			}
		}
	})
}

// BenchmarkHandlerCachedCredentials is BenchmarkHandlerCached with the
// workload's credentials wired (a private registry, a Pod with a pull
// secret): a cached decision reads nothing from the apiserver, so it costs
// what it costs without them.
func BenchmarkHandlerCachedCredentials(b *testing.B) {
	f := newLockedFixture(b)
	kube := newKubeObjects()
	kube.secrets["shop/regcred"] = dockerConfigSecret("shop", "regcred", map[string][2]string{f.host: {user, password}})
	kube.sas["shop/default"] = &corev1.ServiceAccount{}
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{TTL: time.Hour, RequestOCI: webhook.Credentials{Kube: kube}.RequestOCI})
	body, err := json.Marshal(credPod(b, "shop", "", f.good, "regcred"))
	if err != nil {
		b.Fatal(err)
	}
	load(b, webhook.Handler(d, webhook.HandlerOptions{}), body)
	if st := d.Stats(); st.Verifications != 1 || kube.reads.Load() != 2 {
		b.Fatalf("stats %+v, %d apiserver reads: not answered from the cache", st, kube.reads.Load())
	}
}
