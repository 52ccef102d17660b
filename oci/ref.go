package oci

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
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
// the tag "latest".
func ParseReference(s string) (Reference, error) {
	if strings.HasPrefix(s, LayoutPrefix) {
		return parseLayoutRef(strings.TrimPrefix(s, LayoutPrefix))
	}
	r, err := name.ParseReference(s, name.WithDefaultTag("latest"))
	if err != nil {
		return Reference{}, fmt.Errorf("reference %q: %w", s, err)
	}
	ref := Reference{Registry: r.Context().RegistryStr(), Repository: r.Context().RepositoryStr()}
	switch t := r.(type) {
	case name.Digest:
		d, err := digest.Parse(t.DigestStr())
		if err != nil {
			return Reference{}, fmt.Errorf("reference %q: %w", s, err)
		}
		ref.Digest = d
	case name.Tag:
		ref.Tag = t.TagStr()
	}
	return ref, nil
}

func parseLayoutRef(s string) (Reference, error) {
	if s == "" {
		return Reference{}, errors.New("oci-layout: reference has no path")
	}
	ref := Reference{}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		d, err := digest.Parse(s[i+1:])
		if err != nil {
			return Reference{}, fmt.Errorf("reference %q: %w", LayoutPrefix+s, err)
		}
		ref.Layout, ref.Digest = s[:i], d
	} else if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i:], "/") {
		ref.Layout, ref.Tag = s[:i], s[i+1:]
	} else {
		ref.Layout, ref.Tag = s, "latest"
	}
	if ref.Layout == "" {
		return Reference{}, fmt.Errorf("reference %q has no path", LayoutPrefix+s)
	}
	return ref, nil
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
