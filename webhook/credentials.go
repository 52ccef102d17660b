package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/referee-dev/referee/oci"
)

// PullCredentials names where the kubelet takes the credentials to pull a
// workload's images from: the Pod spec's imagePullSecrets and those of its
// service account, Secrets of the workload's namespace
// (https://kubernetes.io/docs/concepts/containers/images/#specifying-imagepullsecrets-on-a-pod).
type PullCredentials struct {
	// Namespace is the request's namespace.
	Namespace string
	// ServiceAccount is the Pod spec's serviceAccountName, "default"
	// when it names none.
	ServiceAccount string
	// Secrets are the Pod spec's imagePullSecrets, in order.
	Secrets []string
}

// PullCredentialsOf reads the PullCredentials of the object of req: a Pod
// (also through pods/ephemeralcontainers) or the Pod template of a
// Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob, as
// ImagesOf reads their images.
func PullCredentialsOf(req *admissionv1.AdmissionRequest) (PullCredentials, error) {
	k := req.Kind
	spec, _, err := podSpecOf(kindName(k.Group, k.Version, k.Kind), req.Object.Raw)
	if err != nil {
		return PullCredentials{}, err
	}
	pc := PullCredentials{Namespace: req.Namespace, ServiceAccount: firstOf(spec.ServiceAccountName, spec.ServiceAccount, "default")}
	for _, s := range spec.ImagePullSecrets {
		if s.Name != "" && !slices.Contains(pc.Secrets, s.Name) {
			pc.Secrets = append(pc.Secrets, s.Name)
		}
	}
	return pc, nil
}

// firstOf is the first of ss that is not empty.
func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// scope says whose credentials pc gives: requests with the same scope
// reach registries as the same user.
func (pc PullCredentials) scope() string {
	return pc.Namespace + "\x00" + pc.ServiceAccount + "\x00" + strings.Join(pc.Secrets, ",")
}

// Credentials gives each admission request the registry credentials its
// workload pulls with: its RequestOCI is DeciderOptions.RequestOCI.
//
// The keychain of a request tries, in order, the Pod spec's
// imagePullSecrets, its service account's imagePullSecrets (of type
// kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg, matched to a
// registry as the kubelet matches them: pullKeyring), then the webhook's own docker config (OCI's
// Keychain, or its RegistryConfig, or docker's default config). A secret
// or service account that does not exist is skipped, as the kubelet
// skips a missing pull secret; an apiserver that cannot be read (down,
// forbidden, slow) is an error naming the object, and the request is
// denied: credentials that could not be read are never taken for none.
//
// What a request's credentials decide, and what is shared between
// namespaces, is said at Decider.
type Credentials struct {
	// Kube reads Secrets and ServiceAccounts.
	Kube KubeReader
	// OCI is the options every request starts from; its credentials
	// come last.
	OCI oci.Options
}

// RequestOCI returns c.OCI with the credentials of req's workload in
// front of its own, reading them within ctx. A workload with no pull
// secrets gets c.OCI as it is.
func (c Credentials) RequestOCI(ctx context.Context, req *admissionv1.AdmissionRequest) (oci.Options, error) {
	pc, err := PullCredentialsOf(req)
	if err != nil {
		return oci.Options{}, err
	}
	secrets, err := c.pullSecrets(ctx, pc)
	if err != nil {
		return oci.Options{}, err
	}
	if len(secrets) == 0 {
		return c.OCI, nil
	}
	keychains := make([]authn.Keychain, 0, len(secrets)+1)
	for _, s := range secrets {
		kc, err := newPullKeyring(s.secret)
		if err != nil {
			return oci.Options{}, fmt.Errorf("pull secret %s/%s: %w", pc.Namespace, s.name, err)
		}
		keychains = append(keychains, kc)
	}
	own, err := c.ownKeychain(ctx, req)
	if err != nil {
		return oci.Options{}, err
	}
	o := c.OCI
	o.Keychain = authn.NewMultiKeychain(append(keychains, own)...)
	return o, nil
}

// pullSecrets reads pc's secrets, the Pod spec's first, then the service
// account's not named already; the missing ones are left out.
func (c Credentials) pullSecrets(ctx context.Context, pc PullCredentials) ([]namedSecret, error) {
	names := slices.Clone(pc.Secrets)
	sa, err := c.Kube.ServiceAccount(ctx, pc.Namespace, pc.ServiceAccount)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, apiError(ctx, "service account", pc.Namespace, pc.ServiceAccount, err)
	default:
		for _, ref := range sa.ImagePullSecrets {
			if ref.Name != "" && !slices.Contains(names, ref.Name) {
				names = append(names, ref.Name)
			}
		}
	}
	var out []namedSecret
	for _, n := range names {
		s, err := c.Kube.Secret(ctx, pc.Namespace, n)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, apiError(ctx, "pull secret", pc.Namespace, n, err)
		default:
			out = append(out, namedSecret{n, s})
		}
	}
	return out, nil
}

type namedSecret struct {
	name   string
	secret *corev1.Secret
}

// apiError says which object could not be read, and why.
func apiError(ctx context.Context, what, ns, objName string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("reading %s %s/%s: the apiserver did not answer in time: %w", what, ns, objName, ctx.Err())
	}
	return fmt.Errorf("reading %s %s/%s: %w", what, ns, objName, err)
}

// ownKeychain is the webhook's own credentials, as oci reads them when
// no keychain is set: OCI.Keychain, else the OCI.RegistryConfig file (with
// its credential helpers) read now for the registries of req's images,
// else docker's default config.
func (c Credentials) ownKeychain(ctx context.Context, req *admissionv1.AdmissionRequest) (authn.Keychain, error) {
	switch {
	case c.OCI.Keychain != nil:
		return c.OCI.Keychain, nil
	case c.OCI.RegistryConfig == "":
		return authn.DefaultKeychain, nil
	}
	path := c.OCI.RegistryConfig
	store, err := credentials.NewStore(path, credentials.StoreOptions{})
	if err != nil {
		return nil, fmt.Errorf("registry config %s: %w", path, err)
	}
	k := hostKeychain{}
	k8 := req.Kind
	images, err := imagesOfObject(kindName(k8.Group, k8.Version, k8.Kind), req.Object.Raw)
	if err != nil {
		return nil, err
	}
	for _, im := range images {
		ref, err := parseImage(im.Reference)
		if err != nil {
			continue // denied by its decision
		}
		host := hubHost(ref.Registry)
		if _, done := k[host]; done {
			continue
		}
		key := host
		if host == name.DefaultRegistry {
			key = "https://index.docker.io/v1/" // docker's key for Docker Hub
		}
		cred, err := store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s in %s: %w", host, path, err)
		}
		k[host] = authn.Anonymous
		if cred != auth.EmptyCredential {
			k[host] = authn.FromConfig(authn.AuthConfig{Username: cred.Username, Password: cred.Password,
				IdentityToken: cred.RefreshToken, RegistryToken: cred.AccessToken})
		}
	}
	return k, nil
}

// hostKeychain is credentials by registry host.
type hostKeychain map[string]authn.Authenticator

func (k hostKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := k[hubHost(r.RegistryStr())]; ok {
		return a, nil
	}
	return authn.Anonymous, nil
}

// authError says in the user's words that a registry wants credentials
// the request does not have (401) or refuses them (403); withPullSecrets
// says whether the workload's were tried. Other errors are as they are.
func authError(registry string, withPullSecrets bool, err error) error {
	status := ""
	var resp *errcode.ErrorResponse
	switch {
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		status = "401 Unauthorized"
	case errors.As(err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	default:
		return err
	}
	whose := "the webhook's own docker config has none it accepts (the webhook reads no pull secrets)"
	if withPullSecrets {
		whose = "none of the workload's imagePullSecrets, its service account's or the webhook's own docker config has credentials it accepts"
	}
	return fmt.Errorf("registry %s answered %s: %s (%w)", registry, status, whose, err)
}
