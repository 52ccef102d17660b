package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// Defaults of DeciderOptions.
const (
	DefaultTTL         = 10 * time.Minute
	DefaultNegativeTTL = 30 * time.Second
	DefaultMaxEntries  = 10000
	DefaultTimeout     = 10 * time.Second // the apiserver's own default
)

// DeciderOptions controls a Decider.
type DeciderOptions struct {
	// Verifier resolves and verifies images; nil means RegistryVerifier{}.
	Verifier Verifier
	// OCI is how registries are reached.
	OCI oci.Options
	// RequestOCI, when set, gives the options for one request instead of
	// OCI: the hook for the workload's own registry credentials (its
	// imagePullSecrets and service account's; Credentials.RequestOCI).
	// It is called at most once per request, and only when a registry is
	// to be reached (a tag to resolve, a digest not in the cache), with a
	// context bounded by the request's time. An error denies the images
	// that needed it. Verifications in flight are shared only by requests
	// with the same credentials (the same namespace, service account and
	// imagePullSecrets), and so are remembered "not verified" results; a
	// verified digest is shared by all (see Decider).
	RequestOCI func(ctx context.Context, req *admissionv1.AdmissionRequest) (oci.Options, error)
	// TTL is how long a verified digest is admitted without a registry
	// call; NegativeTTL how long a "not verified" is remembered. Zero
	// means DefaultTTL and DefaultNegativeTTL; a negative NegativeTTL
	// remembers none.
	TTL, NegativeTTL time.Duration
	// MaxEntries bounds the cache; zero means DefaultMaxEntries.
	MaxEntries int
	// Margin is kept back from the request's timeout, for the answer to
	// reach the apiserver; zero means a tenth of it, at most a second.
	Margin time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Decider answers AdmissionReviews: every image a request runs (ImagesOf)
// must be verified under the first policy rule that matches it. Tags are
// resolved once per request and the digest is what is verified and
// cached; any error denies, and a denial names the image, the policy and
// the first failure on one line. Under a rule's staleIfError, a digest
// verified within the grace is admitted while its registry fails (with a
// warning); an image by tag is not, since its tag cannot be resolved.
// Safe for concurrent use.
//
// # Registry credentials and the cache
//
// With RequestOCI, each request reaches registries with its workload's
// own credentials. A digest verified with one namespace's credentials is
// admitted in every namespace the rule covers, from the cache: what is
// verified is the image's content, which its digest names, and its
// evidence, which is signed; neither depends on who read them. Whether a
// namespace may pull the image is the kubelet's decision, made with that
// Pod's own pull secrets when it pulls (and, for an image already on the
// node, by its KubeletEnsureSecretPulledImages check): admission does
// not grant a pull. What credentials do decide is kept per request:
//
//   - a tag is resolved on every request with the request's credentials,
//     never from another's, so a namespace learns no private tag's digest
//     and a tag it cannot read is refused (the registry's 401 named);
//   - a verification in flight is shared only by requests with the same
//     credentials: a registry error met with one namespace's (a 401) is
//     never the answer to another that has the right ones;
//   - a "not verified" is remembered per credentials too: its reason
//     (steps, artifacts, digests of a private registry's evidence) is not
//     shown to a namespace that could not read that evidence.

type Decider struct {
	o      DeciderOptions
	policy atomic.Pointer[Policy]
	cache  *cache
	refs   refMemo
	flight singleflight.Group
	stats  struct{ hits, misses, verifications, stale atomic.Int64 }
}

// Stats counts a Decider's work since it was made.
type Stats struct {
	// Hits and Misses count cache lookups of a digest; Verifications the
	// verifications run (one per digest in flight, however many requests
	// wait for it); Stale the images admitted under stale-if-error.
	Hits, Misses, Verifications, Stale int64
	// Entries is the cache's size now.
	Entries int
}

// NewDecider returns a Decider for policy p.
func NewDecider(p *Policy, o DeciderOptions) *Decider {
	if o.Verifier == nil {
		o.Verifier = RegistryVerifier{}
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Decider{o: o, cache: newCache(o.MaxEntries)}
	d.policy.Store(p)
	return d
}

// SetPolicy replaces the policy; decisions in flight finish under the old
// one, and cached decisions of the old one are not used (the generation
// is part of their key).
func (d *Decider) SetPolicy(p *Policy) { d.policy.Store(p) }

// LoadPolicy reads the policy file at path and uses it; when it cannot be
// read or is broken, the policy in use stays and the error says why (so
// that a bad edit of a mounted ConfigMap does not lock the cluster out).
func (d *Decider) LoadPolicy(path string) error {
	p, err := LoadPolicy(path)
	if err != nil {
		return fmt.Errorf("%w (the previous policy stays in use)", err)
	}
	d.SetPolicy(p)
	return nil
}

// Policy returns the policy in use.
func (d *Decider) Policy() *Policy { return d.policy.Load() }

// Stats returns the counters.
func (d *Decider) Stats() Stats {
	return Stats{Hits: d.stats.hits.Load(), Misses: d.stats.misses.Load(), Verifications: d.stats.verifications.Load(),
		Stale: d.stats.stale.Load(), Entries: d.cache.len()}
}

// Decide answers review's request. timeout is the apiserver's (the
// webhook URL's ?timeout=), zero meaning DefaultTimeout: the decision is
// made within it less the margin, and an image still being checked then
// is denied, named. The response has the request's uid.
func (d *Decider) Decide(ctx context.Context, review *admissionv1.AdmissionReview, timeout time.Duration) *admissionv1.AdmissionResponse {
	req := review.Request
	if req == nil {
		return deny("", "the admission review has no request")
	}
	p := d.Policy()
	if p == nil {
		return deny(req.UID, "referee: no policy loaded")
	}
	if p.Excluded(req.Namespace) {
		return &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	}
	images, err := ImagesOf(review)
	if err != nil {
		return deny(req.UID, "referee: "+err.Error())
	}
	if len(images) == 0 {
		return &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	}
	job := d.newDecision(review, timeout)
	job.p = p

	// One check per distinct reference, all at once.
	results := map[string]*imageResult{}
	for _, im := range images {
		if _, ok := results[im.Reference]; !ok {
			results[im.Reference] = &imageResult{}
		}
	}
	if len(results) == 1 {
		r := results[images[0].Reference]
		r.warning, r.err = job.image(ctx, images[0].Reference)
	} else {
		var wg sync.WaitGroup
		for ref, r := range results {
			wg.Go(func() { r.warning, r.err = job.image(ctx, ref) })
		}
		wg.Wait()
	}

	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	var denials []string
	seen := map[string]bool{}
	for _, im := range images {
		r := results[im.Reference]
		if seen[im.Reference] {
			continue
		}
		seen[im.Reference] = true
		if r.err != nil {
			denials = append(denials, fmt.Sprintf("image %s (container %s, %s): %v", im.Reference, im.Container, im.Field, r.err))
		} else if r.warning != "" {
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("image %s (container %s): %s", im.Reference, im.Container, r.warning))
		}
	}
	if len(denials) > 0 {
		msg := "referee: " + denials[0]
		if len(denials) > 1 {
			msg += fmt.Sprintf(" (and %d more images denied)", len(denials)-1)
		}
		r := deny(req.UID, msg)
		r.Warnings = resp.Warnings
		return r
	}
	return resp
}

type imageResult struct {
	warning string
	err     error
}

func deny(uid types.UID, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{UID: uid, Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Message: oneLine(msg), Reason: metav1.StatusReasonForbidden, Code: 403,
	}}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// decision is one request's images being decided.
type decision struct {
	d      *Decider
	p      *Policy
	req    *admissionv1.AdmissionRequest
	ns     string
	creds  *requestCreds
	budget time.Duration
	dryRun bool
}

// requestCreds are one request's registry options, found once, when the
// first of its images needs a registry.
type requestCreds struct {
	once  sync.Once
	o     oci.Options
	scope string // who the options are for: "" with the Decider's own
	err   error
}

// options returns the request's registry options and their scope (see
// RequestOCI), the first call asking RequestOCI within ctx.
func (j decision) options(ctx context.Context) (oci.Options, string, error) {
	c := j.creds
	c.once.Do(func() {
		if j.d.o.RequestOCI == nil {
			c.o = j.d.o.OCI
			return
		}
		pc, err := PullCredentialsOf(j.req)
		if err == nil {
			c.scope = pc.scope()
			c.o, err = j.d.o.RequestOCI(ctx, j.req)
		}
		if err != nil {
			c.err = fmt.Errorf("registry credentials: %w", err)
		}
	})
	return c.o, c.scope, c.err
}

// image decides one reference: nil to admit it (with a warning to give,
// perhaps), or why not.
func (j decision) image(parent context.Context, reference string) (string, error) {
	ref, err := j.d.refs.parse(reference)
	if err != nil {
		return "", err
	}
	repo := ref.Name()
	rule, ok := j.p.Match(j.ns, repo)
	if !ok {
		if j.p.AllowUnmatched {
			return "no policy covers it; admitted (unmatched: allow)", nil
		}
		return "", fmt.Errorf("no policy covers %s in namespace %s (unmatched: deny)", repo, j.ns)
	}
	fail := func(err error) error {
		return fmt.Errorf("policy %q: %w", rule.Name, authError(ref.Registry, j.d.o.RequestOCI != nil, err))
	}
	if ref.Digest == "" && rule.RequireDigest {
		return "", fail(errors.New("requires an image by digest (requireDigest), not a tag"))
	}
	what := "verifying " + reference
	ctx, cancel := oci.WithDeadline(parent, j.budget, ref.Registry, what)
	defer cancel()
	if ref.Digest == "" {
		dg, err := j.resolveTag(ctx, ref)
		if err != nil {
			return "", fail(err)
		}
		ref.Digest = dg
	}
	// A verified digest is under key, shared by every request; a "not
	// verified" and a verification in flight are under scoped, shared
	// only by requests with the same credentials (see Decider).
	key := strings.Join([]string{ref.String(), j.p.Generation, rule.Name}, "\x00")
	now := j.d.o.Now()
	if e, ok := j.d.cache.get(key, now); ok && now.Before(e.fresh) && e.err == nil {
		j.d.stats.hits.Add(1)
		return "", nil
	}
	o, scope, err := j.options(ctx)
	if err != nil {
		return "", fail(err)
	}
	scoped := key + "\x00" + scope
	if e, ok := j.d.cache.get(scoped, now); ok && now.Before(e.fresh) && e.err != nil {
		j.d.stats.hits.Add(1)
		return "", fail(e.err)
	}
	j.d.stats.misses.Add(1)
	// The verification is shared by every request waiting for this
	// digest: it is not cancelled when the request that started it goes
	// away, and has a budget of its own.
	ch := j.d.flight.DoChan(scoped, func() (any, error) {
		j.d.stats.verifications.Add(1)
		fctx, cancel := oci.WithDeadline(context.WithoutCancel(parent), j.budget, ref.Registry, what)
		defer cancel()
		err := oci.DeadlineError(fctx, j.d.o.Verifier.Verify(fctx, ref, rule, o))
		if j.dryRun {
			return nil, err
		}
		at := j.d.o.Now()
		switch {
		case err == nil:
			j.d.cache.put(entry{key: key, verifiedAt: at, fresh: at.Add(j.d.o.TTL), keep: at.Add(max(j.d.o.TTL, rule.StaleIfError))})
		case verify.IsNotVerified(err) && j.d.o.NegativeTTL > 0:
			j.d.cache.put(entry{key: scoped, err: err, verifiedAt: at, fresh: at.Add(j.d.o.NegativeTTL), keep: at.Add(j.d.o.NegativeTTL)})
		}
		return nil, err
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		res.Err = oci.DeadlineError(ctx, ctx.Err())
	}
	if res.Err == nil {
		return "", nil
	}
	if verify.IsNotVerified(res.Err) {
		return "", fail(res.Err)
	}
	// Could not be checked: a digest verified within the rule's grace
	// is still admitted, when the rule says so.
	if rule.StaleIfError > 0 {
		if e, ok := j.d.cache.get(key, j.d.o.Now()); ok && e.err == nil && j.d.o.Now().Sub(e.verifiedAt) <= rule.StaleIfError {
			j.d.stats.stale.Add(1)
			return fmt.Sprintf("admitted on a verification %s old (staleIfError %s of policy %q): %v",
				j.d.o.Now().Sub(e.verifiedAt).Round(time.Second), rule.StaleIfError, rule.Name, res.Err), nil
		}
	}
	return "", fail(res.Err)
}

// refMemo remembers parsed references: parsing is a good part of the
// cost of a cached decision. It holds at most maxRefMemo, forgetting all
// when full.
type refMemo struct {
	mu   sync.RWMutex
	refs map[string]parsedRef
}

type parsedRef struct {
	ref oci.Reference
	err error
}

const maxRefMemo = 4096

func (m *refMemo) parse(s string) (oci.Reference, error) {
	m.mu.RLock()
	p, ok := m.refs[s]
	m.mu.RUnlock()
	if ok {
		return p.ref, p.err
	}
	ref, err := parseImage(s)
	m.mu.Lock()
	if m.refs == nil || len(m.refs) >= maxRefMemo {
		m.refs = map[string]parsedRef{}
	}
	m.refs[s] = parsedRef{ref, err}
	m.mu.Unlock()
	return ref, err
}

// parseImage reads an image reference as the kubelet does: without a
// registry it is Docker Hub's, without tag or digest it is :latest, and
// "repo:tag@digest" is the digest.
func parseImage(s string) (oci.Reference, error) {
	r, err := name.ParseReference(s, name.WithDefaultTag("latest"))
	if err != nil || strings.HasPrefix(s, oci.LayoutPrefix) {
		return oci.Reference{}, fmt.Errorf("%q is not an image reference", s)
	}
	ref := oci.Reference{Registry: r.Context().RegistryStr(), Repository: r.Context().RepositoryStr()}
	switch t := r.(type) {
	case name.Digest:
		d, err := digest.Parse(t.DigestStr())
		if err != nil {
			return oci.Reference{}, fmt.Errorf("%q: bad digest: %v", s, err)
		}
		ref.Digest = d
	case name.Tag:
		ref.Tag = t.TagStr()
	}
	return ref, nil
}
