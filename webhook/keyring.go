package webhook

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
)

// pullKeyring is the credentials of one pull secret, found for a registry
// as the kubelet finds them (pkg/credentialprovider's BasicDockerKeyring,
// https://kubernetes.io/docs/concepts/containers/images/#config-json):
// an entry's key is a host, with an optional port and path ("https://"
// and docker's "/v1/" or "/v2/" left out); its host may have globs per
// dot-separated part ("*.example.com"); the port must be the same; the
// path must be a prefix of the repository's. Of the keys that match, the
// greatest in byte order wins, so "host/a/b" before "host/a" before
// "host". Docker Hub is asked for as docker.io, as the kubelet names it
// (docker.io, index.docker.io and registry-1.docker.io, which oras-go
// asks for, are all Docker Hub); when no key matches it, an entry for
// index.docker.io (docker login's "https://index.docker.io/v1/") is used.
//
// Where the kubelet would try several credentials, this gives one: of
// entries with the same key ("example.com" and "https://example.com/"),
// the one whose name sorts first.
//
// It is written here rather than taken from go-containerregistry's
// pkg/authn/kubernetes (which implements the same, but not the kubelet's
// docker.io) because that package links client-go's whole clientset: 28
// MB more in every referee binary, and 15 MB more memory at the start of
// every command. keyring_diff_test.go compares the two.
type pullKeyring struct {
	keys  []string // reverse byte order
	creds map[string]authn.AuthConfig
}

var _ authn.Keychain = (*pullKeyring)(nil)

// newPullKeyring reads a pull secret of type kubernetes.io/dockerconfigjson
// or kubernetes.io/dockercfg; a secret of another type, or with nothing
// under its key, has none (the kubelet ignores it too), and an entry whose
// key is not a URL is left out, as the kubelet leaves it.
func newPullKeyring(s *corev1.Secret) (*pullKeyring, error) {
	var auths map[string]authn.AuthConfig
	switch b := s.Data[dockerKey(s.Type)]; {
	case len(b) == 0:
	case s.Type == corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]authn.AuthConfig `json:"auths"`
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, fmt.Errorf("its %s is not a docker config.json: %w", corev1.DockerConfigJsonKey, err)
		}
		auths = cfg.Auths
	case s.Type == corev1.SecretTypeDockercfg:
		if err := json.Unmarshal(b, &auths); err != nil {
			return nil, fmt.Errorf("its %s is not a docker .dockercfg: %w", corev1.DockerConfigKey, err)
		}
	}
	k := &pullKeyring{creds: map[string]authn.AuthConfig{}}
	for _, loc := range slices.Sorted(maps.Keys(auths)) {
		key, ok := keyringKey(loc)
		if !ok {
			continue
		}
		if _, dup := k.creds[key]; !dup {
			k.keys = append(k.keys, key)
			k.creds[key] = auths[loc]
		}
	}
	slices.Sort(k.keys)
	slices.Reverse(k.keys)
	return k, nil
}

// dockerKey is where a pull secret of type t keeps its docker config.
func dockerKey(t corev1.SecretType) string {
	switch t {
	case corev1.SecretTypeDockerConfigJson:
		return corev1.DockerConfigJsonKey
	case corev1.SecretTypeDockercfg:
		return corev1.DockerConfigKey
	}
	return ""
}

// keyringKey is the key of a docker config entry: host[:port][/path].
func keyringKey(loc string) (string, bool) {
	v := loc
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", false // an empty host matches no registry
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

// Resolve returns the credentials of the first key matching target (a
// registry, or a repository: "host/path"), Anonymous when none does.
func (k *pullKeyring) Resolve(target authn.Resource) (authn.Authenticator, error) {
	t := target.String()
	host, rest, _ := strings.Cut(t, "/")
	hub := hubHost(host) == dockerHubIndex
	if hub {
		t = strings.TrimSuffix("docker.io/"+rest, "/")
	}
	tu, err := url.Parse("https://" + t)
	if err != nil {
		return authn.Anonymous, nil
	}
	for _, key := range k.keys {
		if keyMatches(key, tu) {
			return k.auth(key), nil
		}
	}
	if _, ok := k.creds[dockerHubIndex]; ok && hub {
		return k.auth(dockerHubIndex), nil
	}
	return authn.Anonymous, nil
}

func (k *pullKeyring) auth(key string) authn.Authenticator {
	cred := k.creds[key]
	cred.Auth = "" // decoded into Username and Password already
	return authn.FromConfig(cred)
}

// keyMatches reports whether the key of an entry covers target: the same
// number of host parts, each matching the key's glob, the same port, and
// the key's path a prefix of the target's. The key is read as a URL
// again, as the kubelet reads it.
func keyMatches(key string, target *url.URL) bool {
	ku, err := url.Parse("https://" + key)
	if err != nil || !strings.HasPrefix(target.Path, ku.Path) {
		return false
	}
	kName, kPort := splitPort(ku.Host)
	tName, tPort := splitPort(target.Host)
	if kPort != tPort {
		return false
	}
	kParts, tParts := strings.Split(kName, "."), strings.Split(tName, ".")
	if len(kParts) != len(tParts) {
		return false
	}
	for i := range kParts {
		if ok, err := path.Match(kParts[i], tParts[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func splitPort(hostport string) (host, port string) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, ""
	}
	return h, p
}

// dockerHubIndex is Docker Hub's name in docker's config.
const dockerHubIndex = "index.docker.io"

// hubHost is host, or index.docker.io for any of Docker Hub's names (the
// registry client asks for registry-1.docker.io, docker's config says
// index.docker.io).
func hubHost(host string) string {
	switch host {
	case "docker.io", "registry-1.docker.io":
		return dockerHubIndex
	}
	return host
}
