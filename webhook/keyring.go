package webhook

import (
	"encoding/json"
	"fmt"
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
// path must be a prefix of the repository's. The longest key wins.
//
// It is written here rather than taken from go-containerregistry's
// pkg/authn/kubernetes (which implements the same) because that package
// links client-go's whole clientset: 28 MB more in every referee binary,
// and 15 MB more memory at the start of every command.
type pullKeyring struct {
	keys  []string // longest first
	creds map[string]authn.AuthConfig
}

var _ authn.Keychain = (*pullKeyring)(nil)

// newPullKeyring reads a pull secret of type kubernetes.io/dockerconfigjson
// or kubernetes.io/dockercfg; a secret of another type has none (the
// kubelet ignores it too), and an entry whose key is not a URL is left
// out, as the kubelet leaves it.
func newPullKeyring(s *corev1.Secret) (*pullKeyring, error) {
	var auths map[string]authn.AuthConfig
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]authn.AuthConfig `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
			return nil, fmt.Errorf("its %s is not a docker config.json: %w", corev1.DockerConfigJsonKey, err)
		}
		auths = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths); err != nil {
			return nil, fmt.Errorf("its %s is not a docker .dockercfg: %w", corev1.DockerConfigKey, err)
		}
	}
	k := &pullKeyring{creds: map[string]authn.AuthConfig{}}
	for loc, cred := range auths {
		key, ok := keyringKey(loc)
		if !ok {
			continue
		}
		if _, dup := k.creds[key]; !dup {
			k.keys = append(k.keys, key)
			k.creds[key] = cred
		}
	}
	// Reverse order puts "host/a/b" before "host/a" before "host".
	slices.Sort(k.keys)
	slices.Reverse(k.keys)
	return k, nil
}

// keyringKey is the key of a docker config entry: host[:port][/path].
func keyringKey(loc string) (string, bool) {
	v := loc
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", false
	}
	p := u.Path
	if strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v1/") {
		p = p[3:]
	}
	host := hubHost(u.Host)
	if p == "" || p == "/" {
		return host, true
	}
	return host + p, true
}

// Resolve returns the credentials of the longest key matching target (a
// registry, or a repository: "host/path"), Anonymous when none does.
func (k *pullKeyring) Resolve(target authn.Resource) (authn.Authenticator, error) {
	t := target.String()
	if host, rest, ok := strings.Cut(t, "/"); ok {
		t = hubHost(host) + "/" + rest
	} else {
		t = hubHost(t)
	}
	for _, key := range k.keys {
		if keyMatches(key, t) {
			cred := k.creds[key]
			cred.Auth = "" // decoded into Username and Password already
			return authn.FromConfig(cred), nil
		}
	}
	return authn.Anonymous, nil
}

// keyMatches reports whether the key of an entry covers target: the same
// number of host parts, each matching the key's glob, the same port, and
// the key's path a prefix of the target's.
func keyMatches(key, target string) bool {
	kHost, kPath, _ := strings.Cut(key, "/")
	tHost, tPath, _ := strings.Cut(target, "/")
	if !strings.HasPrefix("/"+tPath, "/"+kPath) {
		return false
	}
	kName, kPort := splitPort(kHost)
	tName, tPort := splitPort(tHost)
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

// hubHost is host, or index.docker.io for any of Docker Hub's names (the
// registry client asks for registry-1.docker.io, docker's config says
// index.docker.io).
func hubHost(host string) string {
	switch host {
	case "docker.io", "registry-1.docker.io":
		return "index.docker.io"
	}
	return host
}
