package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
)

// MaxReviewBytes bounds an AdmissionReview DecodeReview reads: the
// apiserver's own request limit is 3 MiB, and a review carries the object
// and, for an UPDATE, the old object too.
const MaxReviewBytes = 7 << 20

// Image is one container image a request asks to run.
type Image struct {
	// Container is the container's name.
	Container string
	// Field is where the image is in the object, as kubectl explain
	// spells it: "spec.template.spec.initContainers[0].image".
	Field string
	// Reference is the image reference as written.
	Reference string
}

// podSpec is the part of a core/v1 PodSpec that names images, and where
// the kubelet takes the credentials to pull them from.
type podSpec struct {
	InitContainers      []container `json:"initContainers"`
	Containers          []container `json:"containers"`
	EphemeralContainers []container `json:"ephemeralContainers"`
	ServiceAccountName  string      `json:"serviceAccountName"`
	// ServiceAccount is the deprecated alias of ServiceAccountName.
	ServiceAccount   string `json:"serviceAccount"`
	ImagePullSecrets []struct {
		Name string `json:"name"`
	} `json:"imagePullSecrets"`
}

type container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// DecodeReview reads an AdmissionReview v1 of at most MaxReviewBytes
// that has a request with a uid.
func DecodeReview(data []byte) (*admissionv1.AdmissionReview, error) {
	if len(data) > MaxReviewBytes {
		return nil, fmt.Errorf("admission review is more than %d bytes", MaxReviewBytes)
	}
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading the admission review: %w", err)
	}
	if r.APIVersion != "admission.k8s.io/v1" || r.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("not an AdmissionReview of admission.k8s.io/v1 (apiVersion %q, kind %q): set admissionReviewVersions: [v1]", r.APIVersion, r.Kind)
	}
	if r.Request == nil || r.Request.UID == "" {
		return nil, errors.New("the admission review has no request, or no uid")
	}
	return &r, nil
}

// DryRun reports whether the review is a dry run (kubectl --dry-run=server):
// it must have no side effects, so decisions made for it are not cached.
func DryRun(review *admissionv1.AdmissionReview) bool {
	return review.Request != nil && review.Request.DryRun != nil && *review.Request.DryRun
}

// ImagesOf returns the images a request asks to run that need checking:
// every container, init container and ephemeral container of a Pod
// (also through the pods/ephemeralcontainers subresource that kubectl
// debug uses), or of the Pod template of a Deployment, ReplicaSet,
// StatefulSet, DaemonSet, Job or CronJob. For an UPDATE only the images
// that changed against the old object are returned (a container whose
// image is what it was was admitted before: re-verifying it would block
// Job cleanup and namespace deletion during a registry outage). DELETE,
// CONNECT and the status and scale subresources run no new image. Any
// other kind or subresource is an error: a webhook that does not
// understand a request must not admit it.
func ImagesOf(review *admissionv1.AdmissionReview) ([]Image, error) {
	req := review.Request
	if req == nil {
		return nil, errors.New("the admission review has no request")
	}
	switch req.Operation {
	case admissionv1.Delete, admissionv1.Connect:
		return nil, nil
	case admissionv1.Create, admissionv1.Update:
	default:
		return nil, fmt.Errorf("operation %q is not one the webhook knows", req.Operation)
	}
	k := req.Kind
	what := kindName(k.Group, k.Version, k.Kind)
	switch req.SubResource {
	case "":
	case "status", "scale":
		return nil, nil
	case "ephemeralcontainers":
		if what != "v1/Pod" {
			return nil, fmt.Errorf("subresource ephemeralcontainers of %s is not one the webhook knows", what)
		}
	default:
		return nil, fmt.Errorf("subresource %s of %s is not one the webhook checks: leave it out of the webhook's rules", req.SubResource, what)
	}
	images, err := imagesOfObject(what, req.Object.Raw)
	if err != nil {
		return nil, err
	}
	if req.Operation != admissionv1.Update {
		return images, nil
	}
	old, err := imagesOfObject(what, req.OldObject.Raw)
	if err != nil {
		return nil, fmt.Errorf("old object: %w", err)
	}
	before := map[string]string{}
	for _, im := range old {
		before[containerKey(im)] = im.Reference
	}
	changed := images[:0]
	for _, im := range images {
		if ref, ok := before[containerKey(im)]; !ok || ref != im.Reference {
			changed = append(changed, im)
		}
	}
	return changed, nil
}

// containerKey names a container by its list and name: a container whose
// name stays and whose image changes is a changed image, wherever it is
// in the list.
func containerKey(im Image) string {
	list := im.Field
	if i := strings.LastIndexByte(list, '['); i >= 0 {
		list = list[:i]
	}
	return list + "\x00" + im.Container
}

func kindName(group, version, kind string) string {
	if group == "" {
		return version + "/" + kind
	}
	return group + "/" + version + "/" + kind
}

func imagesOfObject(what string, raw []byte) ([]Image, error) {
	spec, prefix, err := podSpecOf(what, raw)
	if err != nil {
		return nil, err
	}
	var out []Image
	for i, c := range spec.InitContainers {
		out = append(out, Image{Container: c.Name, Field: fmt.Sprintf("%s.initContainers[%d].image", prefix, i), Reference: c.Image})
	}
	for i, c := range spec.Containers {
		out = append(out, Image{Container: c.Name, Field: fmt.Sprintf("%s.containers[%d].image", prefix, i), Reference: c.Image})
	}
	for i, c := range spec.EphemeralContainers {
		out = append(out, Image{Container: c.Name, Field: fmt.Sprintf("%s.ephemeralContainers[%d].image", prefix, i), Reference: c.Image})
	}
	return out, nil
}

// podSpecOf reads the Pod spec of an object of kind what (as kindName
// spells it) and where it is in the object ("spec.template.spec").
func podSpecOf(what string, raw []byte) (*podSpec, string, error) {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return nil, "", fmt.Errorf("the request has no %s object", what)
	}
	if len(raw) > MaxReviewBytes {
		return nil, "", fmt.Errorf("the %s object is more than %d bytes", what, MaxReviewBytes)
	}
	// Only the containers are read: the apiserver has validated the
	// object, and decoding the whole of it would cost every request.
	var (
		spec   *podSpec
		prefix string
	)
	decode := func(v any) error {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("reading the %s object: %w", what, err)
		}
		return nil
	}
	switch what {
	case "v1/Pod":
		var o struct{ Spec podSpec }
		if err := decode(&o); err != nil {
			return nil, "", err
		}
		spec, prefix = &o.Spec, "spec"
	case "apps/v1/Deployment", "apps/v1/ReplicaSet", "apps/v1/StatefulSet", "apps/v1/DaemonSet", "batch/v1/Job":
		var o struct {
			Spec struct{ Template struct{ Spec podSpec } }
		}
		if err := decode(&o); err != nil {
			return nil, "", err
		}
		spec, prefix = &o.Spec.Template.Spec, "spec.template.spec"
	case "batch/v1/CronJob":
		var o struct {
			Spec struct {
				JobTemplate struct {
					Spec struct{ Template struct{ Spec podSpec } }
				}
			}
		}
		if err := decode(&o); err != nil {
			return nil, "", err
		}
		spec, prefix = &o.Spec.JobTemplate.Spec.Template.Spec, "spec.jobTemplate.spec.template.spec"
	default:
		return nil, "", fmt.Errorf("kind %s is not one the webhook knows (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob): leave it out of the webhook's rules", what)
	}
	return spec, prefix, nil
}
