package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/referee-dev/referee/demo"
	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/webhook"
)

// registry is go-containerregistry's registry (with the referrers API)
// behind switches that take it down (503), make it hang or far away,
// counting the requests that reach it.
type registry struct {
	host            string
	down, hang      atomic.Bool
	delay           atomic.Int64 // a time.Duration added to every request
	requests        atomic.Int64
	referrersByPath sync.Map // path → *atomic.Int64
}

func newRegistry(t testing.TB) *registry {
	r := &registry{}
	reg := ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		time.Sleep(time.Duration(r.delay.Load()))
		if strings.Contains(req.URL.Path, "/referrers/") {
			n, _ := r.referrersByPath.LoadOrStore(req.URL.Path, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
		switch {
		case r.hang.Load():
			<-req.Context().Done()
			return
		case r.down.Load():
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// referrerListings counts the referrers listings of digest's image.
func (r *registry) referrerListings(digest string) int64 {
	var n int64
	r.referrersByPath.Range(func(k, v any) bool {
		if strings.HasSuffix(k.(string), "/referrers/"+digest) {
			n += v.(*atomic.Int64).Load()
		}
		return true
	})
	return n
}

// fixture is a registry holding the demo's supply chain: HOST/shop/app
// with tag demo (verified) and evil (the same evidence copied onto
// another image), and a policy whose rule shop covers HOST/shop/**.
type fixture struct {
	reg        *registry
	dir        string
	good, evil string // by digest
	goodDigest string
	evilDigest string
	policy     *webhook.Policy
}

func newFixture(t testing.TB, extra string) *fixture {
	t.Helper()
	f := &fixture{reg: newRegistry(t), dir: t.TempDir()}
	image, err := demo.Run(t.Context(), demo.Options{Dir: f.dir, Registry: f.reg.host + "/shop/app", Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	f.good = image
	_, f.goodDigest, _ = strings.Cut(image, "@")
	s := testenv.Open(t, f.reg.host+"/shop/app")
	desc, err := s.Resolve(t.Context(), "evil")
	if err != nil {
		t.Fatal(err)
	}
	f.evilDigest = desc.Digest.String()
	f.evil = f.reg.host + "/shop/app@" + f.evilDigest
	f.setPolicy(t, extra)
	return f
}

func (f *fixture) setPolicy(t testing.TB, extra string) {
	t.Helper()
	src := fmt.Sprintf("policies:\n  - name: shop\n    images: [\"%s/shop/**\"]\n    layoutKeys: [owner.pub]\n%s", f.reg.host, extra)
	p, err := webhook.ParsePolicy([]byte(src), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	f.policy = p
}

// podReview is an AdmissionReview v1 of a Pod whose containers run images.
func podReview(t testing.TB, op admissionv1.Operation, ns string, images ...string) *admissionv1.AdmissionReview {
	t.Helper()
	pod := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}}
	for i, im := range images {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: im})
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	r := &admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "uid-1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: ns, Operation: op,
			Object: runtime.RawExtension{Raw: raw}}}
	if op == admissionv1.Update {
		r.Request.OldObject = runtime.RawExtension{Raw: raw}
	}
	return r
}

func decide(t *testing.T, d *webhook.Decider, review *admissionv1.AdmissionReview) *admissionv1.AdmissionResponse {
	t.Helper()
	resp := d.Decide(t.Context(), review, 5*time.Second)
	if resp.UID != review.Request.UID {
		t.Fatalf("uid %q, want %q", resp.UID, review.Request.UID)
	}
	if !resp.Allowed && (resp.Result == nil || resp.Result.Code != 403 || strings.Contains(resp.Result.Message, "\n")) {
		t.Fatalf("denial without a one-line 403 message: %+v", resp.Result)
	}
	return resp
}

func denial(r *admissionv1.AdmissionResponse) string {
	if r.Allowed {
		return ""
	}
	return r.Result.Message
}

func TestDecide(t *testing.T) {
	f := newFixture(t, "unmatched: deny\nexclude: {namespaces: [referee-system]}\n")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	tag := f.reg.host + "/shop/app:demo"

	for _, tc := range []struct {
		name   string
		ns     string
		images []string
		want   []string // in the denial; none: admitted
	}{
		{"verified by digest", "shop", []string{f.good}, nil},
		{"verified by tag", "shop", []string{tag}, nil},
		{"verified, tag and digest", "shop", []string{f.reg.host + "/shop/app:demo@" + f.goodDigest}, nil},
		{"replayed evidence", "shop", []string{f.good, f.evil},
			[]string{"referee: image " + f.evil + " (container c1, spec.containers[1].image): policy \"shop\": not verified: ", "step"}},
		{"no policy covers it", "shop", []string{"other.example.com/x/y:v1"},
			[]string{"image other.example.com/x/y:v1 (container c0, spec.containers[0].image): no policy covers other.example.com/x/y in namespace shop (unmatched: deny)"}},
		{"excluded namespace", "referee-system", []string{"other.example.com/x/y:v1", f.evil}, nil},
		{"not a reference", "shop", []string{"UPPER/case:x"}, []string{`"UPPER/case:x" is not an image reference`}},
		{"unknown tag", "shop", []string{f.reg.host + "/shop/app:nope"}, []string{`policy "shop": resolving ` + f.reg.host + "/shop/app:nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := denial(decide(t, d, podReview(t, admissionv1.Create, tc.ns, tc.images...)))
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("denied: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Fatalf("denial %q, want %q", got, w)
				}
			}
		})
	}

	// An UPDATE whose images did not change makes no registry call, even
	// for an image that would be denied; one that changes them does.
	before := f.reg.requests.Load()
	if r := decide(t, d, podReview(t, admissionv1.Update, "shop", f.evil, "other.example.com/x:1")); !r.Allowed {
		t.Fatalf("unchanged UPDATE denied: %s", denial(r))
	}
	if n := f.reg.requests.Load() - before; n != 0 {
		t.Fatalf("unchanged UPDATE: %d registry requests", n)
	}

	// unmatched: allow admits with a warning.
	f.setPolicy(t, "unmatched: allow\n")
	d.SetPolicy(f.policy)
	r := decide(t, d, podReview(t, admissionv1.Create, "shop", "other.example.com/x/y:v1"))
	if !r.Allowed || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "unmatched: allow") {
		t.Fatalf("unmatched allow: %+v", r)
	}
}

func TestDecideRequireDigest(t *testing.T) {
	f := newFixture(t, "    requireDigest: true\n")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	before := f.reg.requests.Load()
	msg := denial(decide(t, d, podReview(t, admissionv1.Create, "shop", f.reg.host+"/shop/app:demo")))
	if !strings.Contains(msg, `policy "shop": requires an image by digest (requireDigest), not a tag`) {
		t.Fatalf("denial %q", msg)
	}
	if n := f.reg.requests.Load() - before; n != 0 {
		t.Fatalf("a refused tag made %d registry requests", n)
	}
	if r := decide(t, d, podReview(t, admissionv1.Create, "shop", f.good)); !r.Allowed {
		t.Fatalf("by digest: %s", denial(r))
	}
}

// The cache is by digest: once a tag is moved to another image, the new
// digest is verified (and denied), however fresh the old decision.
func TestDecideCacheByDigestNotTag(t *testing.T) {
	f := newFixture(t, "")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{TTL: time.Hour})
	tag := f.reg.host + "/shop/app:demo"
	for range 3 {
		if r := decide(t, d, podReview(t, admissionv1.Create, "shop", tag)); !r.Allowed {
			t.Fatalf("denied: %s", denial(r))
		}
	}
	if st := d.Stats(); st.Verifications != 1 || st.Hits != 2 {
		t.Fatalf("stats %+v, want 1 verification and 2 hits", st)
	}
	s := testenv.Open(t, f.reg.host+"/shop/app")
	evil, err := s.Resolve(t.Context(), "evil")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(t.Context(), evil, "demo"); err != nil {
		t.Fatal(err)
	}
	msg := denial(decide(t, d, podReview(t, admissionv1.Create, "shop", tag)))
	if !strings.Contains(msg, "image "+tag) || !strings.Contains(msg, "not verified") {
		t.Fatalf("retagged: %q", msg)
	}
	if st := d.Stats(); st.Verifications != 2 {
		t.Fatalf("stats %+v, want the new digest verified", st)
	}
	// "Not verified" is remembered briefly: no second verification.
	decide(t, d, podReview(t, admissionv1.Create, "shop", f.evil))
	if st := d.Stats(); st.Verifications != 2 {
		t.Fatalf("stats %+v, want the negative result cached", st)
	}
	// A new policy generation decides again.
	f.setPolicy(t, "    minLayoutVersion: 1\n")
	d.SetPolicy(f.policy)
	decide(t, d, podReview(t, admissionv1.Create, "shop", f.good))
	if st := d.Stats(); st.Verifications != 3 {
		t.Fatalf("stats %+v, want a verification under the new policy", st)
	}
}

// Eight containers sharing two images (each spelled three ways, by tag,
// by digest and both), and eight such Pods at once: each image is
// verified once, its referrers listed as often as one verification does.
func TestDecideSingleflight(t *testing.T) {
	f := newFixture(t, "")
	// What one verification of each image lists, on a Decider of its own.
	demoGood, demoEvil := f.reg.referrerListings(f.goodDigest), f.reg.referrerListings(f.evilDigest) // the demo's own
	fresh := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	decide(t, fresh, podReview(t, admissionv1.Create, "shop", f.good))
	decide(t, fresh, podReview(t, admissionv1.Create, "shop", f.evil))
	perGood, perEvil := f.reg.referrerListings(f.goodDigest)-demoGood, f.reg.referrerListings(f.evilDigest)-demoEvil
	if perGood == 0 || perEvil == 0 {
		t.Fatalf("no referrers listings counted (%d, %d)", perGood, perEvil)
	}
	repo := f.reg.host + "/shop/app"
	images := []string{
		f.good, repo + ":demo", repo + ":demo@" + f.goodDigest, repo + "@" + f.goodDigest,
		f.evil, repo + ":evil", repo + ":evil@" + f.evilDigest, repo + "@" + f.evilDigest,
	}
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp := d.Decide(t.Context(), podReview(t, admissionv1.Create, "shop", images...), 5*time.Second)
			if resp.Allowed || !strings.Contains(resp.Result.Message, "(and 2 more images denied)") {
				t.Errorf("pod: %+v", resp.Result)
			}
		})
	}
	wg.Wait()
	if st := d.Stats(); st.Verifications != 2 {
		t.Fatalf("stats %+v, want 2 verifications", st)
	}
	if g, e := f.reg.referrerListings(f.goodDigest)-demoGood-perGood, f.reg.referrerListings(f.evilDigest)-demoEvil-perEvil; g != perGood || e != perEvil {
		t.Fatalf("referrers listings: %d and %d, want %d and %d", g, e, perGood, perEvil)
	}
}

func TestDecideRegistryDown(t *testing.T) {
	f := newFixture(t, "")
	now := time.Now()
	clock := func() time.Time { return now }
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{TTL: time.Minute, Now: clock})
	if r := decide(t, d, podReview(t, admissionv1.Create, "shop", f.good)); !r.Allowed {
		t.Fatalf("denied: %s", denial(r))
	}
	f.reg.down.Store(true)
	now = now.Add(2 * time.Minute) // past the TTL
	for _, image := range []string{f.good, f.reg.host + "/shop/app:demo"} {
		msg := denial(decide(t, d, podReview(t, admissionv1.Create, "shop", image)))
		if !strings.Contains(msg, "image "+image) || !strings.Contains(msg, `policy "shop"`) || strings.Contains(msg, "not verified") {
			t.Fatalf("registry down: %q", msg)
		}
	}
	// A registry error is not remembered: back up, admitted at once.
	f.reg.down.Store(false)
	if r := decide(t, d, podReview(t, admissionv1.Create, "shop", f.good)); !r.Allowed {
		t.Fatalf("registry back: %s", denial(r))
	}
}

func TestDecideStaleIfError(t *testing.T) {
	f := newFixture(t, "    staleIfError: 1h\n")
	now := time.Now()
	clock := func() time.Time { return now }
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{TTL: time.Minute, Now: clock})
	decide(t, d, podReview(t, admissionv1.Create, "shop", f.good))
	f.reg.down.Store(true)
	now = now.Add(30 * time.Minute)
	r := decide(t, d, podReview(t, admissionv1.Create, "shop", f.good))
	if !r.Allowed || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "admitted on a verification 30m0s old (staleIfError 1h0m0s of policy \"shop\")") {
		t.Fatalf("within the grace: %+v %v", r.Result, r.Warnings)
	}
	// A tag cannot be resolved during the outage: denied.
	if r := decide(t, d, podReview(t, admissionv1.Create, "shop", f.reg.host+"/shop/app:demo")); r.Allowed {
		t.Fatal("a tag admitted during the outage")
	}
	// Past the grace: denied.
	now = now.Add(31 * time.Minute)
	if r := decide(t, d, podReview(t, admissionv1.Create, "shop", f.good)); r.Allowed {
		t.Fatal("admitted past the grace")
	}
	if st := d.Stats(); st.Stale != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A registry that hangs costs the request its timeout less the margin,
// and the denial names the image that ran out of time.
func TestDecideTimeout(t *testing.T) {
	f := newFixture(t, "")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	f.reg.hang.Store(true)
	start := time.Now()
	r := d.Decide(t.Context(), podReview(t, admissionv1.Create, "shop", f.good), time.Second)
	took := time.Since(start)
	if r.Allowed || !strings.Contains(r.Result.Message, "registry "+f.reg.host+": timed out after 900ms verifying "+f.good) {
		t.Fatalf("hung registry: %+v", r.Result)
	}
	if took > time.Second {
		t.Fatalf("took %s, more than the apiserver's timeout", took)
	}
}

// A dry run decides as any request but leaves nothing in the cache.
func TestDecideDryRun(t *testing.T) {
	f := newFixture(t, "")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	review := podReview(t, admissionv1.Create, "shop", f.good)
	yes := true
	review.Request.DryRun = &yes
	for range 2 {
		if r := decide(t, d, review); !r.Allowed {
			t.Fatalf("dry run denied: %s", denial(r))
		}
	}
	if st := d.Stats(); st.Entries != 0 || st.Verifications != 2 {
		t.Fatalf("stats %+v, want nothing cached", st)
	}
}

// A request the webhook does not understand is denied, never admitted.
func TestDecideUnknownKind(t *testing.T) {
	f := newFixture(t, "")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	review, err := webhook.DecodeReview(readReview(t, "configmap.json"))
	if err != nil {
		t.Fatal(err)
	}
	if msg := denial(decide(t, d, review)); !strings.Contains(msg, "kind v1/ConfigMap is not one the webhook knows") {
		t.Fatalf("denial %q", msg)
	}
}
