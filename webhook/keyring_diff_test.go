package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	k8skeychain "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"github.com/google/go-containerregistry/pkg/name"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/webhook"
)

// The webhook matches a pull secret's entries to a registry by hand
// (webhook/keyring.go) rather than with go-containerregistry's
// pkg/authn/kubernetes, which links client-go's clientset. These tests
// compare the two, with the kubelet (k8s.io/kubernetes
// pkg/credentialprovider, keyring.go and secrets/secrets.go) as the
// judge where they differ. The kubelet
//   - looks an image up by its normalized name, docker.io/library/app
//     for Docker Hub, and when no key matches that, takes an entry for
//     index.docker.io (docker login's "https://index.docker.io/v1/");
//     pkg/authn/kubernetes looks up index.docker.io/library/app, so an
//     entry for docker.io never matches and one for *.docker.io or
//     index.docker.io/library does;
//   - leaves out an entry whose key is not a URL; pkg/authn/kubernetes
//     refuses the whole secret.
// kubeletFirst is pkg/authn/kubernetes with those two put right.
//
// Where the webhook knowingly differs from the kubelet, each case of
// TestKeyringKubeletExceptions says why.

// keyringSecret is a pull secret with one entry for each of locs; entry i
// has user "u<i>" (so the answer tells which entry it came from).
func keyringSecret(typ corev1.SecretType, locs []string) *corev1.Secret {
	return pullSecretOf(typ, keyringEntries(locs, func(string) bool { return true }))
}

// keyringEntries is entry i for each of locs that keep says to.
func keyringEntries(locs []string, keep func(string) bool) map[string]authn.AuthConfig {
	auths := map[string]authn.AuthConfig{}
	for i, loc := range locs {
		if keep(loc) {
			auths[loc] = authn.AuthConfig{Username: fmt.Sprintf("u%d", i), Password: fmt.Sprintf("p%d", i)}
		}
	}
	return auths
}

// pullSecretOf is a pull secret of typ with auths.
func pullSecretOf(typ corev1.SecretType, auths map[string]authn.AuthConfig) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "regcred"}, Type: typ, Data: map[string][]byte{}}
	if typ == corev1.SecretTypeDockercfg {
		s.Data[corev1.DockerConfigKey], _ = json.Marshal(auths)
	} else {
		s.Data[corev1.DockerConfigJsonKey], _ = json.Marshal(map[string]any{"auths": auths})
	}
	return s
}

// keyringTarget is a registry ("host[:port]") or, with a "/", a repository.
func keyringTarget(s string) (authn.Resource, error) {
	if strings.Contains(s, "/") {
		return name.NewRepository(s)
	}
	return name.NewRegistry(s)
}

// userOf is the user name of what a resolves, "" for none.
func userOf(t testing.TB, a authn.Authenticator) string {
	t.Helper()
	if a == authn.Anonymous {
		return ""
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Username
}

// keyringPod is a Pod whose pull secrets are s0, s1 ... (n of them).
func keyringPod(t testing.TB, n int) *admissionv1.AdmissionRequest {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("s%d", i)
	}
	return credPod(t, "shop", "", "registry.example.com/x/y:1", names...).Request
}

// webhookUser is the user the webhook's keychain gives target when req's
// Pod has secrets as its imagePullSecrets (s0, s1 ...), and the webhook
// has no credentials of its own.
func webhookUser(t testing.TB, req *admissionv1.AdmissionRequest, target authn.Resource, secrets ...*corev1.Secret) (string, error) {
	t.Helper()
	kube := newKubeObjects()
	for i, s := range secrets {
		kube.secrets[fmt.Sprintf("shop/s%d", i)] = s
	}
	o, err := webhook.Credentials{Kube: kube, OCI: oci.Options{Keychain: authn.NewMultiKeychain()}}.RequestOCI(context.Background(), req)
	if err != nil {
		return "", err
	}
	a, err := o.Keychain.Resolve(target)
	if err != nil {
		t.Fatal(err)
	}
	return userOf(t, a), nil
}

// libraryUser is what pkg/authn/kubernetes resolves for target.
func libraryUser(t testing.TB, target authn.Resource, secrets ...*corev1.Secret) (string, error) {
	t.Helper()
	var ss []corev1.Secret
	for _, s := range secrets {
		ss = append(ss, *s)
	}
	kc, err := k8skeychain.NewFromPullSecrets(context.Background(), ss)
	if err != nil {
		return "", err
	}
	a, err := kc.Resolve(target)
	if err != nil {
		t.Fatal(err)
	}
	return userOf(t, a), nil
}

// kubeletKey is the key the kubelet files an entry under (BasicDockerKeyring.Add).
func kubeletKey(loc string) (string, bool) {
	if !strings.HasPrefix(loc, "https://") && !strings.HasPrefix(loc, "http://") {
		loc = "https://" + loc
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", false
	}
	p := u.Path
	if strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v1/") {
		p = p[3:]
	}
	if p == "" || p == "/" {
		return u.Host, true
	}
	return u.Host + p, true
}

// hubName is a target as the kubelet names it: docker.io/... for Docker Hub.
type hubName string

func (h hubName) String() string { return string(h) }
func (h hubName) RegistryStr() string {
	host, _, _ := strings.Cut(string(h), "/")
	return host
}

// isHub is whether target is on Docker Hub: index.docker.io as
// go-containerregistry names it, or registry-1.docker.io as oras-go asks
// for it.
func isHub(target authn.Resource) bool {
	switch target.RegistryStr() {
	case name.DefaultRegistry, "registry-1.docker.io", "docker.io":
		return true
	}
	return false
}

// kubeletFirst is the user of the first credential the kubelet tries for
// target with a pull secret of typ with entries for locs: pkg/authn/kubernetes
// given the entries the kubelet keeps and the name the kubelet looks up,
// then the kubelet's index.docker.io fallback.
func kubeletFirst(t testing.TB, typ corev1.SecretType, locs []string, target authn.Resource) string {
	t.Helper()
	// The entries the kubelet keeps, each with its user as in the secret.
	s := pullSecretOf(typ, keyringEntries(locs, func(loc string) bool {
		_, ok := kubeletKey(loc)
		return ok
	}))
	lookup := target
	if isHub(target) {
		_, rest, _ := strings.Cut(target.String(), "/")
		lookup = hubName(strings.TrimSuffix("docker.io/"+rest, "/"))
	}
	u, err := libraryUser(t, lookup, s)
	if err != nil {
		t.Fatalf("pkg/authn/kubernetes refused the entries the kubelet keeps (%q): %v", locs, err)
	}
	if u == "" && isHub(target) {
		for i, loc := range locs {
			if k, ok := kubeletKey(loc); ok && k == name.DefaultRegistry {
				return fmt.Sprintf("u%d", i)
			}
		}
	}
	return u
}

// sameKey is whether users a and b came from entries the kubelet files
// under one key: it tries them all, in the order of a Go map, and the
// webhook takes the one whose name sorts first; either is the kubelet's.
func sameKey(locs []string, a, b string) bool {
	if a == b {
		return true
	}
	var i, j int
	if _, err := fmt.Sscanf(a, "u%d", &i); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "u%d", &j); err != nil {
		return false
	}
	ki, _ := kubeletKey(locs[i])
	kj, _ := kubeletKey(locs[j])
	return ki == kj
}

type keyringCase struct {
	name   string
	locs   []string // entry i has user u<i>
	target string   // a registry, or with a "/" a repository
	want   string   // the user the kubelet tries first; "" for none
	// library, when pkg/authn/kubernetes answers otherwise, is why the
	// kubelet is right (the library's answer is checked to differ).
	library string
}

var keyringCases = []keyringCase{
	{name: "host", locs: []string{"registry.example.com"}, target: "registry.example.com", want: "u0"},
	{name: "https", locs: []string{"https://registry.example.com"}, target: "registry.example.com", want: "u0"},
	{name: "http", locs: []string{"http://registry.example.com/"}, target: "registry.example.com", want: "u0"},
	{name: "v1", locs: []string{"https://registry.example.com/v1/"}, target: "registry.example.com", want: "u0"},
	{name: "v2", locs: []string{"registry.example.com/v2/"}, target: "registry.example.com/shop/app", want: "u0"},
	{name: "v2 and a path", locs: []string{"registry.example.com/v2/shop"}, target: "registry.example.com/shop/app", want: "u0"},
	{name: "v2 without slash is a path", locs: []string{"registry.example.com/v2"}, target: "registry.example.com/shop/app"},
	{name: "port", locs: []string{"registry.example.com:5000"}, target: "registry.example.com:5000", want: "u0"},
	{name: "port differs", locs: []string{"registry.example.com:5000"}, target: "registry.example.com"},
	{name: "port missing", locs: []string{"registry.example.com"}, target: "registry.example.com:5000"},
	{name: "ip and port", locs: []string{"http://10.0.0.1:5000/v2/"}, target: "10.0.0.1:5000/app", want: "u0"},
	{name: "glob", locs: []string{"*.example.com"}, target: "registry.example.com/shop/app", want: "u0"},
	{name: "glob needs a part", locs: []string{"*.example.com"}, target: "example.com"},
	{name: "glob is one part", locs: []string{"*.example.com"}, target: "a.registry.example.com"},
	{name: "glob in a part", locs: []string{"reg*.example.com"}, target: "registry.example.com", want: "u0"},
	{name: "glob with port", locs: []string{"*.example.com:5000"}, target: "registry.example.com:5000", want: "u0"},
	{name: "glob inside a part", locs: []string{"r*y.example.com"}, target: "registry.example.com", want: "u0"},
	{name: "? starts a query", locs: []string{"?egistry.example.com"}, target: "registry.example.com"},
	{name: "class glob is not a URL", locs: []string{"[q-s]egistry.example.com", "*.example.com"}, target: "registry.example.com", want: "u1",
		library: "the kubelet leaves out an entry whose key is not a URL; pkg/authn/kubernetes refuses the secret"},
	{name: "bad glob is not a URL", locs: []string{"reg[.example.com"}, target: "registry.example.com",
		library: "the kubelet leaves out an entry whose key is not a URL; pkg/authn/kubernetes refuses the secret"},
	{name: "path", locs: []string{"registry.example.com/shop"}, target: "registry.example.com/shop/app", want: "u0"},
	{name: "path is a prefix of the string", locs: []string{"registry.example.com/sh"}, target: "registry.example.com/shop/app", want: "u0"},
	{name: "other path", locs: []string{"registry.example.com/shop"}, target: "registry.example.com/other/app"},
	{name: "path for a registry", locs: []string{"registry.example.com/shop"}, target: "registry.example.com"},
	{name: "other host", locs: []string{"other.example.com"}, target: "registry.example.com"},
	{name: "user info", locs: []string{"https://someone@registry.example.com"}, target: "registry.example.com", want: "u0"},
	{name: "query", locs: []string{"registry.example.com/shop?x=1"}, target: "registry.example.com/shop/app", want: "u0"},
	{name: "escaped ? is read again as a query", locs: []string{"registry.example.com/sh%3Fzz"}, target: "registry.example.com/shop/app", want: "u0"},
	{name: "longest path first", locs: []string{"registry.example.com", "registry.example.com/shop", "registry.example.com/shop/app"},
		target: "registry.example.com/shop/app", want: "u2"},
	{name: "longest matching path", locs: []string{"registry.example.com", "registry.example.com/shop", "registry.example.com/shop/other"},
		target: "registry.example.com/shop/app", want: "u1"},
	{name: "host over glob", locs: []string{"*.example.com", "registry.example.com"}, target: "registry.example.com", want: "u1"},
	{name: "greatest key, not the longest", locs: []string{"*.example.com/shop/app", "registry.example.com"},
		target: "registry.example.com/shop/app", want: "u1"},
	{name: "ports and paths", locs: []string{"registry.example.com:5000/shop", "registry.example.com/shop", "registry.example.com:5000"},
		target: "registry.example.com:5000/shop/app", want: "u0"},
	{name: "malformed key left out", locs: []string{"%zz://bad", "registry.example.com"}, target: "registry.example.com", want: "u1",
		library: "the kubelet leaves out an entry whose key is not a URL (\"ignoring\"); pkg/authn/kubernetes refuses the secret"},
	{name: "malformed host left out", locs: []string{"registry.example.com:port"}, target: "registry.example.com",
		library: "the kubelet leaves out an entry whose key is not a URL; pkg/authn/kubernetes refuses the secret"},
	{name: "empty key", locs: []string{""}, target: "registry.example.com"},

	// Docker Hub.
	{name: "docker login's hub key", locs: []string{"https://index.docker.io/v1/"}, target: "docker.io/library/busybox", want: "u0"},
	{name: "hub key for a registry", locs: []string{"https://index.docker.io/v1/"}, target: "index.docker.io", want: "u0"},
	{name: "hub key for oras-go's name", locs: []string{"https://index.docker.io/v1/"}, target: "registry-1.docker.io", want: "u0",
		library: "oras-go asks for Docker Hub as registry-1.docker.io; the kubelet knows it as docker.io"},
	{name: "docker.io", locs: []string{"docker.io"}, target: "library/busybox", want: "u0",
		library: "the kubelet looks up docker.io/library/busybox; pkg/authn/kubernetes index.docker.io/library/busybox"},
	{name: "docker.io with a path", locs: []string{"docker.io/library"}, target: "docker.io/library/busybox", want: "u0",
		library: "the kubelet looks up docker.io/library/busybox"},
	{name: "docker.io other path", locs: []string{"docker.io/shop"}, target: "docker.io/library/busybox"},
	{name: "docker.io over the hub key", locs: []string{"https://index.docker.io/v1/", "docker.io"}, target: "docker.io/library/busybox", want: "u1",
		library: "the kubelet takes the index.docker.io entry only when no key matches docker.io/library/busybox"},
	{name: "docker.io path over the hub key", locs: []string{"https://index.docker.io/v1/", "docker.io/library"}, target: "library/busybox", want: "u1",
		library: "the kubelet looks up docker.io/library/busybox"},
	{name: "index.docker.io path is never the kubelet's", locs: []string{"index.docker.io/library"}, target: "docker.io/library/busybox",
		library: "the kubelet looks up docker.io/library/busybox, and falls back to index.docker.io alone"},
	{name: "glob over docker.io", locs: []string{"*.io"}, target: "docker.io/library/busybox", want: "u0",
		library: "the kubelet looks up docker.io/library/busybox: two parts"},
	{name: "glob over index.docker.io is not the kubelet's", locs: []string{"*.docker.io"}, target: "docker.io/library/busybox",
		library: "the kubelet looks up docker.io/library/busybox: two parts"},
	{name: "hub key not for another registry", locs: []string{"https://index.docker.io/v1/"}, target: "registry.example.com"},
	{name: "registry-1 key is not the kubelet's", locs: []string{"registry-1.docker.io"}, target: "docker.io/library/busybox"},
}

// TestKeyringMatchesLibrary: for each secret and image the webhook gives
// the credentials the kubelet tries first, and so does pkg/authn/kubernetes
// except where a case says why not.
func TestKeyringMatchesLibrary(t *testing.T) {
	for _, tc := range keyringCases {
		for _, typ := range []corev1.SecretType{corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg} {
			t.Run(tc.name+"/"+string(typ), func(t *testing.T) {
				target, err := keyringTarget(tc.target)
				if err != nil {
					t.Fatal(err)
				}
				s := keyringSecret(typ, tc.locs)
				got, err := webhookUser(t, keyringPod(t, 1), target, s)
				if err != nil {
					t.Fatalf("webhook: %v", err)
				}
				if got != tc.want {
					t.Errorf("webhook gives %q for %s with %q, the kubelet %q", got, tc.target, tc.locs, tc.want)
				}
				if k := kubeletFirst(t, typ, tc.locs, target); k != tc.want {
					t.Errorf("the kubelet's rule in this test gives %q, the case says %q", k, tc.want)
				}
				lib, err := libraryUser(t, target, s)
				switch {
				case tc.library == "" && (err != nil || lib != tc.want):
					t.Errorf("pkg/authn/kubernetes gives %q (%v), the kubelet %q", lib, err, tc.want)
				case tc.library != "" && err == nil && lib == tc.want:
					t.Errorf("pkg/authn/kubernetes gives %q as the kubelet: the difference %q is gone", lib, tc.library)
				}
			})
		}
	}
}

// TestKeyringKubeletExceptions is where the webhook knowingly gives other
// credentials than the kubelet would try first.
func TestKeyringKubeletExceptions(t *testing.T) {
	for _, tc := range []struct {
		name          string
		secrets       [][]string // a secret each, entry i of secret j has user u<i> (secret 0) or s<j>u<i>
		target        string
		want, kubelet string
		library       string // what pkg/authn/kubernetes gives
		why           string
	}{
		{name: "several secrets", secrets: [][]string{{"*.example.com"}, {"registry.example.com"}}, target: "registry.example.com",
			want: "u0", kubelet: "s1u0", library: "s1u0",
			why: "the kubelet puts every pull secret's entries in one keyring and tries them all, the greatest key first; " +
				"the webhook's keychain takes the first secret with an entry that matches, and only its credential"},
		{name: "hub key for localhost", secrets: [][]string{{"https://index.docker.io/v1/"}}, target: "localhost/app",
			want: "", kubelet: "u0", library: "",
			why: "the kubelet takes a name whose first part has no '.' or ':' (localhost/app) for Docker Hub's; " +
				"the webhook never sends Docker Hub's credentials to another registry"},
		{name: "registry-1.docker.io written in an image", secrets: [][]string{{"registry-1.docker.io"}}, target: "registry-1.docker.io/library/busybox",
			want: "", kubelet: "u0", library: "u0",
			why: "the kubelet takes registry-1.docker.io/... for a registry of its own; oras-go asks for all of Docker Hub " +
				"as registry-1.docker.io, so the webhook takes it for Docker Hub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, err := keyringTarget(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			var secrets []*corev1.Secret
			for j, locs := range tc.secrets {
				auths := keyringEntries(locs, func(string) bool { return true })
				for loc, a := range auths {
					if j > 0 {
						a.Username = fmt.Sprintf("s%d%s", j, a.Username)
					}
					auths[loc] = a
				}
				secrets = append(secrets, pullSecretOf(corev1.SecretTypeDockerConfigJson, auths))
			}
			got, err := webhookUser(t, keyringPod(t, len(secrets)), target, secrets...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("webhook gives %q, want %q (the kubelet %q: %s)", got, tc.want, tc.kubelet, tc.why)
			}
			if lib, err := libraryUser(t, target, secrets...); err != nil || lib != tc.library {
				t.Errorf("pkg/authn/kubernetes gives %q (%v), want %q", lib, err, tc.library)
			}
		})
	}

	// The kubelet's DockerConfigEntry has a user name and password alone:
	// a secret's identitytoken or registrytoken never reaches the
	// runtime. The webhook passes them on, as pkg/authn/kubernetes does: a
	// Pod whose secret has nothing else cannot be pulled either way.
	data, _ := json.Marshal(map[string]any{"auths": map[string]any{"registry.example.com": map[string]string{"identitytoken": "tok"}}})
	s := &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: data}}
	kube := newKubeObjects()
	kube.secrets["shop/s0"] = s
	o, err := webhook.Credentials{Kube: kube, OCI: oci.Options{Keychain: authn.NewMultiKeychain()}}.RequestOCI(t.Context(), keyringPod(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := name.NewRegistry("registry.example.com")
	a, err := o.Keychain.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := a.Authorization(); err != nil || cfg.IdentityToken != "tok" {
		t.Errorf("identity token: %+v, %v", cfg, err)
	}
}

// TestKeyringEmptySecret: a pull secret with nothing under its key gives
// no credentials and is no error, as the kubelet skips it.
func TestKeyringEmptySecret(t *testing.T) {
	reg, _ := name.NewRegistry("registry.example.com")
	for _, s := range []*corev1.Secret{
		{Type: corev1.SecretTypeDockerConfigJson},
		{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{corev1.DockerConfigKey: {}}},
		{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"registry.example.com":{"username":"u"}}`)}},
		{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example.com":{"username":"u"}}}`)}},
	} {
		got, err := webhookUser(t, keyringPod(t, 1), reg, s)
		if err != nil || got != "" {
			t.Errorf("secret %s %q: %q, %v", s.Type, s.Data, got, err)
		}
		if lib, err := libraryUser(t, reg, s); err != nil || lib != "" {
			t.Errorf("pkg/authn/kubernetes, secret %s %q: %q, %v", s.Type, s.Data, lib, err)
		}
	}
}

// FuzzKeyringMatchesLibrary: for any secret (its keys one a line) and any
// registry or repository, the webhook gives the credentials the kubelet
// tries first (kubeletFirst: pkg/authn/kubernetes, put right where it is
// not the kubelet), or one of the same key's.
func FuzzKeyringMatchesLibrary(f *testing.F) {
	for _, tc := range keyringCases {
		f.Add(strings.Join(tc.locs, "\n"), tc.target, false)
	}
	f.Add("registry.example.com\nhttps://registry.example.com/\nregistry.example.com/v1/", "registry.example.com", true)
	f.Add("docker.io\nhttps://index.docker.io/v1/\nindex.docker.io", "docker.io/shop/app", false)
	f.Add("*.*\n*.*.*\n*\n[a-z]*.example.com:443/a", "a.example.com:443/a/b", true)
	f.Add("localhost:5000/a\nlocalhost:5000\nlocalhost", "localhost:5000/a/b", false)
	f.Add("[::1]:5000\n[::1]\n::1", "[::1]:5000/app", false)
	req := keyringPod(f, 1)
	f.Fuzz(func(t *testing.T, keys, target string, dockercfg bool) {
		locs := strings.Split(strings.ToValidUTF8(keys, "\uFFFD"), "\n")
		if len(locs) > 8 {
			locs = locs[:8]
		}
		slices.Sort(locs)
		locs = slices.Compact(locs) // a JSON object has each key once
		typ := corev1.SecretTypeDockerConfigJson
		if dockercfg {
			typ = corev1.SecretTypeDockercfg
		}
		res, err := keyringTarget(target)
		if err != nil {
			return
		}
		targets := []authn.Resource{res}
		if repo, ok := res.(name.Repository); ok {
			targets = append(targets, repo.Registry) // what oras-go asks for
		}
		s := keyringSecret(typ, locs)
		for _, tg := range targets {
			got, err := webhookUser(t, req, tg, s)
			if err != nil {
				t.Fatalf("webhook refused %q: %v", locs, err)
			}
			want := kubeletFirst(t, typ, locs, tg)
			if !sameKey(locs, got, want) {
				t.Errorf("%q for %s: webhook %q, kubelet %q", locs, tg, got, want)
			}
		}
	})
}
