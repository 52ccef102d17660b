package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/referee-dev/referee/oci"
)

// Mutate answers review's request for the mutating webhook (/mutate):
// every image the request runs by tag alone (ImagesOf: containers, init
// containers and ephemeral containers of a Pod or of a workload's Pod
// template; for an UPDATE, only images that changed) that a policy rule
// covers is resolved once, as Decide resolves it, and rewritten by a JSON
// Patch (RFC 6902) to "repo:tag@sha256:…", so that the digest /verify
// verifies is the one the Pod runs. It is idempotent: an image with a
// digest is left as it is.
//
// Nothing is patched when the object has ownerReferences (a ReplicaSet of
// a Deployment, a Pod of a ReplicaSet, Job, StatefulSet or DaemonSet): its
// template came from its owner, pinned when the owner was admitted, and
// patching it would make the owner see a template of its own differ and
// create another child, endlessly (ephemeral containers, which
// pods/ephemeralcontainers adds and no template holds, are pinned in owned
// Pods too). Nor under a rule's requireDigest (the
// tag is to be refused, not pinned), in an excluded namespace, or for an
// image no rule covers.
//
// Mutate never refuses: a request it cannot read, or a tag it cannot
// resolve, is allowed unpatched with a warning, and /verify, which
// resolves and verifies the same tag, refuses it. timeout is as for
// Decide. The response has the request's uid.
func (d *Decider) Mutate(ctx context.Context, review *admissionv1.AdmissionReview, timeout time.Duration) *admissionv1.AdmissionResponse {
	req := review.Request
	if req == nil {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	warn := func(format string, a ...any) {
		resp.Warnings = append(resp.Warnings, oneLine("referee: not pinned: "+fmt.Sprintf(format, a...)))
	}
	p := d.Policy()
	if p == nil || p.Excluded(req.Namespace) {
		return resp
	}
	images, err := ImagesOf(review)
	if err != nil {
		warn("%v", err)
		return resp
	}
	var tagged []Image
	for _, im := range images {
		if ref, err := d.refs.parse(im.Reference); err == nil && ref.Digest == "" {
			tagged = append(tagged, im)
		}
	}
	if len(tagged) == 0 {
		return resp
	}
	// An ephemeral container (kubectl debug) is not in any owner's
	// template: pinning it changes nothing the owner compares.
	if req.SubResource != "ephemeralcontainers" {
		owned, err := hasOwners(req.Object.Raw)
		if err != nil || owned {
			return resp
		}
	}
	job := d.newDecision(review, timeout)
	job.p = p

	// One resolution per distinct reference, all at once.
	type pin struct {
		digest digest.Digest
		skip   bool
		err    error
	}
	pins := map[string]*pin{}
	for _, im := range tagged {
		pins[im.Reference] = &pin{}
	}
	var wg sync.WaitGroup
	for ref, pn := range pins {
		wg.Go(func() { pn.digest, pn.skip, pn.err = job.resolve(ctx, ref) })
	}
	wg.Wait()

	var patch []jsonPatchOp
	for _, im := range tagged {
		pn := pins[im.Reference]
		switch {
		case pn.err != nil:
			warn("image %s (container %s, %s): %v", im.Reference, im.Container, im.Field, pn.err)
			pn.err = nil // once per reference
		case pn.skip || pn.digest == "":
		default:
			patch = append(patch, jsonPatchOp{Op: "replace", Path: patchPath(im.Field), Value: pinned(im.Reference, pn.digest)})
		}
	}
	if len(patch) == 0 {
		return resp
	}
	data, err := json.Marshal(patch)
	if err != nil {
		warn("%v", err)
		return resp
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = data, &pt
	return resp
}

// jsonPatchOp is one operation of a JSON Patch, RFC 6902 section 4.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// resolve resolves reference's tag as the decision of the same request
// would (same rule, registry options and budget): skip when no rule covers
// it or its rule wants it refused (requireDigest) rather than pinned.
func (j decision) resolve(parent context.Context, reference string) (dg digest.Digest, skip bool, err error) {
	ref, err := j.d.refs.parse(reference)
	if err != nil {
		return "", false, err
	}
	rule, ok := j.p.Match(j.ns, ref.Name())
	if !ok || rule.RequireDigest {
		return "", true, nil
	}
	ctx, cancel := oci.WithDeadline(parent, j.budget, ref.Registry, "resolving "+reference)
	defer cancel()
	dg, err = j.resolveTag(ctx, ref)
	if err != nil {
		return "", false, fmt.Errorf("policy %q: %w", rule.Name, authError(ref.Registry, j.d.o.RequestOCI != nil, err))
	}
	return dg, false, nil
}

// pinned is reference, a tag, with dg: "repo:tag@sha256:…" (":latest"
// spelt out when the tag was left out, as the kubelet reads it).
func pinned(reference string, dg digest.Digest) string {
	if !strings.Contains(reference[strings.LastIndexByte(reference, '/')+1:], ":") {
		reference += ":latest"
	}
	return reference + "@" + dg.String()
}

// patchPath is the JSON Pointer (RFC 6901) of field, as ImagesOf spells it:
// "spec.containers[1].image" → "/spec/containers/1/image".
func patchPath(field string) string {
	r := strings.NewReplacer(".", "/", "[", "/", "]", "")
	return "/" + r.Replace(field)
}

// hasOwners reports whether the object has ownerReferences.
func hasOwners(raw []byte) (bool, error) {
	var o struct {
		Metadata struct {
			OwnerReferences []json.RawMessage `json:"ownerReferences"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return false, err
	}
	return len(o.Metadata.OwnerReferences) > 0, nil
}

// newDecision is the part of a request's decision Decide and Mutate share:
// the registry options for the request (found when first needed:
// decision.options) and the budget its timeout leaves.
func (d *Decider) newDecision(review *admissionv1.AdmissionReview, timeout time.Duration) decision {
	req := review.Request
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	margin := d.o.Margin
	if margin <= 0 {
		margin = min(timeout/10, time.Second)
	}
	return decision{d: d, p: d.Policy(), req: req, ns: req.Namespace, creds: &requestCreds{}, budget: timeout - margin, dryRun: DryRun(review)}
}

// resolveTag resolves ref's tag with the request's registry options, the
// one resolution Decide and Mutate both make.
func (j decision) resolveTag(ctx context.Context, ref oci.Reference) (digest.Digest, error) {
	o, _, err := j.options(ctx)
	if err != nil {
		return "", err
	}
	dg, err := j.d.o.Verifier.Resolve(ctx, ref, o)
	return dg, oci.DeadlineError(ctx, err)
}
