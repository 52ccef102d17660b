package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Registry credentials live in a docker config.json, in docker's format,
// so that docker, crane and oras read what Login writes and the other way
// round: https://docs.docker.com/reference/cli/docker/login/#credential-stores
// Editing the file (atomically, mode 0600, other entries kept) and talking
// to credential helpers is oras-go's credentials package.

// dockerHubKey is the key docker stores Docker Hub's credentials under.
const dockerHubKey = "https://index.docker.io/v1/"

// credential is where the registry client takes credentials from.
//
// A chosen RegistryConfig is read with oras-go's credentials store, the
// code Login writes it with (its credsStore and credHelpers included), and
// only that file: there is no falling back to docker's default, as with
// docker --config.
//
// The default stays go-containerregistry's authn.DefaultKeychain, which
// reads docker's default config.json with docker's own loader: the same
// file Login writes when RegistryConfig is empty ($DOCKER_CONFIG, else
// ~/.docker), with credsStore, credHelpers and legacy "https://host/"
// keys as docker reads them, and podman's auth.json when there is no
// docker config, which referee read before Login existed. So `login`
// then any other command with the same RegistryConfig, empty or not,
// finds the credentials.
func (o Options) credential() (auth.CredentialFunc, error) {
	switch {
	case o.Keychain != nil:
		return keychainCredential(o.Keychain), nil
	case o.RegistryConfig != "":
		store, err := openRegistryConfig(o.RegistryConfig, credentials.StoreOptions{}, true)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, hostport string) (auth.Credential, error) {
			cred, err := store.Get(ctx, serverAddress(hostport))
			if err != nil {
				return auth.EmptyCredential, fmt.Errorf("credentials for %s in %s: %w", hostport, o.RegistryConfig, err)
			}
			return cred, nil
		}, nil
	}
	return keychainCredential(authn.DefaultKeychain), nil
}

// keychainCredential gives the credentials a go-containerregistry keychain
// resolves; a registry it knows nothing of is spoken to anonymously.
func keychainCredential(keychain authn.Keychain) auth.CredentialFunc {
	return func(ctx context.Context, hostport string) (auth.Credential, error) {
		reg, err := name.NewRegistry(hostport)
		if err != nil {
			return auth.EmptyCredential, nil
		}
		a, err := keychain.Resolve(reg)
		if err != nil || a == authn.Anonymous {
			return auth.EmptyCredential, nil
		}
		cfg, err := a.Authorization()
		if err != nil {
			return auth.EmptyCredential, fmt.Errorf("credentials for %s: %w", hostport, err)
		}
		return auth.Credential{Username: cfg.Username, Password: cfg.Password, AccessToken: cfg.RegistryToken, RefreshToken: cfg.IdentityToken}, nil
	}
}

// Login checks username and password against registry (a host[:port]
// as in image references; docker.io is Docker Hub) and, when the registry
// accepts them, stores them in o.RegistryConfig, or in docker's default
// config or credential store when that is empty, as docker login does.
// Refused credentials are an error and nothing is written.
func Login(ctx context.Context, registry, username, password string, o Options) error {
	host, err := loginHost(registry)
	if err != nil {
		return fmt.Errorf("logging in: %w", err)
	}
	switch {
	case username == "":
		return fmt.Errorf("logging in to %s: no user name", host)
	case password == "":
		return fmt.Errorf("logging in to %s: no password", host)
	case strings.ContainsRune(username, ':'):
		// docker's config stores base64(user:password).
		return fmt.Errorf("logging in to %s: a user name cannot contain ':'", host)
	}
	// Like docker login, store the default config's credentials in the
	// platform's credential helper when one is installed and nothing is
	// configured yet; a chosen file gets them itself.
	store, path, err := o.credentialStore(o.RegistryConfig == "")
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	reg.PlainHTTP = o.PlainHTTP || (isLoopback(host) && o.CAFile == "")
	cred := auth.Credential{Username: username, Password: password}
	client, err := o.authClientWith(auth.StaticCredential(reg.Reference.Registry, cred))
	if err != nil {
		return err
	}
	client.Cache = nil
	reg.Client = client
	if err := reg.Ping(ctx); err != nil {
		return loginError(host, username, err)
	}
	if err := store.Put(ctx, credentials.ServerAddressFromRegistry(host), cred); err != nil {
		return fmt.Errorf("logging in to %s: storing the credentials in %s: %w", host, path, err)
	}
	return nil
}

// loginError says why a registry did not accept a login.
func loginError(host, username string, err error) error {
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if len(resp.Errors) > 0 {
			status += ": " + resp.Errors.Error()
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return fmt.Errorf("logging in to %s: the registry refused the credentials for %s (%s)", host, username, status)
		}
		if resp.StatusCode == http.StatusBadRequest && resp.URL != nil && resp.URL.Scheme == "http" {
			status += "; it may speak only HTTPS (see --ca-file)"
		}
		return fmt.Errorf("logging in to %s: the registry answered %s %s with %s", host, resp.Method, resp.URL, status)
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return fmt.Errorf("logging in to %s: the registry did not answer in time: %w", host, err)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) || errors.As(err, &nerr) {
		return fmt.Errorf("logging in to %s: cannot reach the registry: %w", host, err)
	}
	return fmt.Errorf("logging in to %s: %w", host, err)
}

// Logout removes the credentials stored for registry from o.RegistryConfig
// (or docker's default config and its credential store). A registry with
// no stored credentials is an error.
func Logout(ctx context.Context, registry string, o Options) error {
	host, err := loginHost(registry)
	if err != nil {
		return fmt.Errorf("logging out: %w", err)
	}
	store, path, err := o.credentialStore(false)
	if err != nil {
		return fmt.Errorf("logging out of %s: %w", host, err)
	}
	key := credentials.ServerAddressFromRegistry(host)
	stored := func() (bool, error) {
		cred, err := store.Get(ctx, key)
		if err != nil {
			return false, fmt.Errorf("logging out of %s: reading the credentials in %s: %w", host, path, err)
		}
		return cred != auth.EmptyCredential, nil
	}
	if ok, err := stored(); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("logging out of %s: not logged in (no credentials for it in %s)", host, path)
	}
	if err := credentials.Logout(ctx, store, host); err != nil {
		return fmt.Errorf("logging out of %s: removing the credentials from %s: %w", host, path, errors.Unwrap(err))
	}
	if ok, err := stored(); err != nil || !ok {
		return err
	}
	// The credentials are under a key with a scheme, as older docker
	// versions wrote; docker logout removes those too.
	for _, k := range []string{"https://" + host, "https://" + host + "/", "http://" + host, "http://" + host + "/", "https://" + host + "/v1/", "https://" + host + "/v2/"} {
		_ = store.Delete(ctx, k) // a key that is not there is no error for the file, one for a helper
	}
	if ok, err := stored(); err != nil || !ok {
		return err
	}
	return fmt.Errorf("logging out of %s: %s keeps credentials for it under a key referee cannot remove; edit the file", host, path)
}

// loginHost reads the registry a user logs in to: host[:port], or a
// server address with a scheme and path as docker accepts
// (https://index.docker.io/v1/). Docker Hub's names become docker.io,
// which oras-go maps to its API host and its credentials key.
func loginHost(registry string) (string, error) {
	host := strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://")
	host, _, _ = strings.Cut(host, "/")
	if host == "" {
		return "", errors.New("no registry named")
	}
	if _, err := name.NewRegistry(host, name.StrictValidation); err != nil {
		return "", fmt.Errorf("%q is not a registry host[:port]", registry)
	}
	if serverAddress(host) == dockerHubKey {
		return "docker.io", nil
	}
	return host, nil
}

// serverAddress is the key a registry host's credentials are stored under
// in docker's config: the host itself, or docker's legacy key for Docker
// Hub under any of its names.
func serverAddress(host string) string {
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return dockerHubKey
	}
	return host
}

// credentialStore opens the config Login and Logout edit: o.RegistryConfig
// or docker's default. detectHelper stores new credentials in the
// platform's credential helper (as docker does) when the config
// configures none.
func (o Options) credentialStore(detectHelper bool) (*credentials.DynamicStore, string, error) {
	path := o.RegistryConfig
	if path == "" {
		dir := os.Getenv("DOCKER_CONFIG")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, "", fmt.Errorf("finding docker's config: %w", err)
			}
			dir = filepath.Join(home, ".docker")
		}
		path = filepath.Join(dir, "config.json")
	}
	store, err := openRegistryConfig(path, credentials.StoreOptions{AllowPlaintextPut: true, DetectDefaultNativeStore: detectHelper}, false)
	return store, path, err
}

// openRegistryConfig opens a docker config.json, checked first so that a
// broken file is named in the user's words; a file that does not exist
// is empty unless mustExist.
func openRegistryConfig(path string, opts credentials.StoreOptions, mustExist bool) (*credentials.DynamicStore, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !mustExist:
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once
		}
		return nil, fmt.Errorf("registry config %s: %w", path, err)
	case len(bytes.TrimSpace(data)) > 0:
		var cfg struct {
			Auths       map[string]json.RawMessage `json:"auths"`
			CredsStore  string                     `json:"credsStore"`
			CredHelpers map[string]string          `json:"credHelpers"`
		}
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if err := json.Unmarshal(data, &cfg); errors.As(err, &syntax) {
			return nil, fmt.Errorf("registry config %s is not JSON: %s (at byte %d)", path, syntax, syntax.Offset)
		} else if errors.As(err, &typ) {
			if typ.Field == "" {
				return nil, fmt.Errorf("registry config %s holds a JSON %s, not docker's config object", path, typ.Value)
			}
			return nil, fmt.Errorf("registry config %s: %q is a JSON %s, not what docker writes there", path, typ.Field, typ.Value)
		} else if err != nil {
			return nil, fmt.Errorf("registry config %s: %w", path, err)
		}
	}
	store, err := credentials.NewStore(path, opts)
	if err != nil {
		return nil, fmt.Errorf("registry config %s: %w", path, err)
	}
	return store, nil
}
