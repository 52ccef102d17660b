package oci

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// LayoutPrefix introduces a reference to an OCI image-layout directory, as
// oras and skopeo spell it: oci-layout:PATH[:TAG|@DIGEST].
const LayoutPrefix = "oci-layout:"

// Reference names an image (or any manifest) in a registry repository or an
// OCI image-layout directory, by tag or by digest.
type Reference struct {
	// Layout is the directory of an OCI image layout; empty for a registry.
	Layout string
	// Registry and Repository name a registry repository.
	Registry, Repository string
	// Tag and Digest: at most one is set for a registry reference parsed
	// from "repo:tag" or "repo@digest" ("repo:tag@digest" keeps the digest
	// and the tag for display only).
	Tag    string
	Digest digest.Digest
}

// ParseReference reads a registry reference (HOST/REPO[:TAG|@DIGEST], with
// go-containerregistry's rules and defaults) or an OCI layout reference
// (oci-layout:PATH[:TAG|@DIGEST]). A reference without tag or digest means
// the tag "latest". A path (/…, ./…, ../…) or the name of an existing
// directory is refused with the oci-layout: spelling to use instead, and a
// malformed reference with what is wrong in it, on one line.
func ParseReference(s string) (Reference, error) {
	if strings.HasPrefix(s, LayoutPrefix) {
		return parseLayoutRef(strings.TrimPrefix(s, LayoutPrefix))
	}
	if err := notAPath(s); err != nil {
		return Reference{}, err
	}
	r, err := name.ParseReference(s, name.WithDefaultTag("latest"))
	if err != nil || registryOnly(s) {
		return Reference{}, badReference(s)
	}
	ref := Reference{Registry: r.Context().RegistryStr(), Repository: r.Context().RepositoryStr()}
	if !validRepository(ref.Repository) {
		// go-containerregistry accepts repositories registries refuse
		// ("a//b").
		return Reference{}, badReference(s)
	}
	switch t := r.(type) {
	case name.Digest:
		d, err := digest.Parse(t.DigestStr())
		if err != nil {
			return Reference{}, badReference(s)
		}
		ref.Digest = d
	case name.Tag:
		if !validTag(t.TagStr()) {
			return Reference{}, badReference(s)
		}
		ref.Tag = t.TagStr()
	}
	return ref, nil
}

func parseLayoutRef(s string) (Reference, error) {
	full := LayoutPrefix + s
	ref := Reference{}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		d, err := digest.Parse(s[i+1:])
		if err != nil {
			return Reference{}, fmt.Errorf("reference %q: %s", full, badDigest(s[i+1:]))
		}
		ref.Layout, ref.Digest = s[:i], d
	} else if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i:], "/") {
		ref.Layout, ref.Tag = s[:i], s[i+1:]
		if ref.Tag == "" {
			return Reference{}, fmt.Errorf("reference %q: the tag after ':' is empty", full)
		}
	} else {
		ref.Layout, ref.Tag = s, "latest"
	}
	if ref.Layout == "" {
		return Reference{}, fmt.Errorf("reference %q has no directory (write oci-layout:DIR[:TAG|@DIGEST])", full)
	}
	return ref, nil
}

// validRepository and validTag apply the distribution spec's grammar for
// repository names and tags, as oras-go checks it.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests
func validRepository(s string) bool {
	return registry.Reference{Repository: s}.ValidateRepository() == nil
}

func validTag(s string) bool { return registry.Reference{Reference: s}.ValidateReferenceAsTag() == nil }

// notAPath refuses a file path given where an image reference is expected:
// left to the registry parser, "/tmp/airgap" would name a repository of
// Docker Hub and "./airgap" a registry called ".".
func notAPath(s string) error {
	pathLike := s == "." || s == ".." || s == "~" || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~/")
	first, _, hasSlash := strings.Cut(s, "/")
	explicitHost := hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost")
	if !pathLike && explicitHost {
		return nil
	}
	st, err := os.Stat(s)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("%q is a directory; for an OCI layout write %s%s", s, LayoutPrefix, s)
	case !pathLike && err == nil && !explicitHost:
		return fmt.Errorf("%q is a file here, not an image reference (HOST/REPO[:TAG|@DIGEST]; for the Docker Hub image write docker.io/%s)", s, s)
	case !pathLike:
		return nil
	case err == nil:
		return fmt.Errorf("%q is a file, not an image reference (HOST/REPO[:TAG|@DIGEST], or %sDIR for an OCI layout)", s, LayoutPrefix)
	}
	return fmt.Errorf("%q is a file path, not an image reference; for an OCI layout write %s%s", s, LayoutPrefix, s)
}

// badReference says what is wrong with a registry reference that does not
// parse, part by part, in the distribution spec's terms.
func badReference(s string) error {
	return fmt.Errorf("reference %q: %s", s, whatIsWrong(s))
}

func whatIsWrong(s string) string {
	if strings.TrimSpace(s) == "" {
		return "empty (want HOST/REPO[:TAG|@DIGEST], or oci-layout:DIR)"
	}
	if registryOnly(s) {
		return fmt.Sprintf("names registry %s but no repository (write %s/REPO)", s, s)
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		return fmt.Sprintf("drop the %s:// scheme: a reference is HOST/REPO[:TAG|@DIGEST] (for a registry without TLS, --plain-http)", scheme)
	}
	rest, dgst, hasDigest := strings.Cut(s, "@")
	var tag string
	hasTag := false
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i+1:], "/") {
		rest, tag, hasTag = rest[:i], rest[i+1:], true
	}
	host, repo := "", rest
	if first, after, ok := strings.Cut(rest, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host, repo = first, after
	}
	switch {
	case rest == "":
		return "no repository before the tag or digest"
	case host != "" && repo == "":
		return fmt.Sprintf("names registry %s but no repository (write %s/REPO)", host, host)
	case host != "" && !validHost(host):
		return fmt.Sprintf("registry %q is not a valid HOST[:PORT]", host)
	case repo != strings.ToLower(repo):
		return fmt.Sprintf("repository %q has uppercase letters; repository names are lowercase", repo)
	case !validRepository(repo):
		return fmt.Sprintf("repository %q is not a valid name (lowercase letters and digits, separated by '.', '_', '-' or '/')", repo)
	case hasTag && tag == "":
		return "the tag after ':' is empty"
	case hasTag && !validTag(tag):
		return fmt.Sprintf("tag %q is not valid (up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-')", tag)
	case hasDigest:
		return badDigest(dgst)
	}
	return "not a valid reference (want HOST/REPO[:TAG|@DIGEST], or oci-layout:DIR)"
}

func badDigest(d string) string {
	if d == "" {
		return "the digest after '@' is empty"
	}
	if _, err := digest.Parse(d); err != nil {
		return fmt.Sprintf("digest %q is not valid (want sha256: and 64 hex digits)", d)
	}
	return fmt.Sprintf("digest %q is valid, but not where a digest may be", d)
}

// registryOnly reports whether s is this machine's registry and nothing
// more (localhost:5000, 127.0.0.1:5000), which go-containerregistry would
// read as the tag 5000 of Docker Hub's library/localhost.
func registryOnly(s string) bool {
	h, port, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(s, "/") || port == "" || strings.Trim(port, "0123456789") != "" {
		return false
	}
	return h == "localhost" || net.ParseIP(h) != nil
}

// validHost reports whether h is HOST[:PORT] as a URL would have it.
func validHost(h string) bool {
	u, err := url.Parse("dummy://" + h)
	return err == nil && u.Host == h && !strings.HasSuffix(h, ":")
}

// IsLayout reports whether the reference is an OCI layout directory.
func (r Reference) IsLayout() bool { return r.Layout != "" }

// Name is the repository (HOST/REPO) or oci-layout:PATH, without tag or
// digest.
func (r Reference) Name() string {
	if r.IsLayout() {
		return LayoutPrefix + r.Layout
	}
	return r.Registry + "/" + r.Repository
}

// String renders the reference, with its digest when it has one.
func (r Reference) String() string {
	switch {
	case r.Digest != "":
		return r.Name() + "@" + r.Digest.String()
	case r.Tag != "":
		return r.Name() + ":" + r.Tag
	}
	return r.Name()
}

// WithDigest returns the reference pinned to d, which is how every
// reference is used after it is resolved once. The tag it was resolved from
// is kept for display and for copying, never for fetching.
func (r Reference) WithDigest(d digest.Digest) Reference {
	r.Digest = d
	return r
}

// isLoopback reports whether a registry host is this machine, where plain
// HTTP is allowed without --plain-http.
func isLoopback(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
