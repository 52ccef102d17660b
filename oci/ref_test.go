package oci_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/oci"
)

// TestParseReferenceGood: references that parse, with go-containerregistry's
// defaults.
func TestParseReferenceGood(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for _, tc := range []struct{ in, want string }{
		{"localhost:5000/app:v1", "localhost:5000/app:v1"},
		{"localhost:5000/team/app", "localhost:5000/team/app:latest"},
		{"127.0.0.1:5000/app@sha256:" + hex, "127.0.0.1:5000/app@sha256:" + hex},
		{"ghcr.io/org/app_x.y-z:1.0-rc_1", "ghcr.io/org/app_x.y-z:1.0-rc_1"},
		{"alpine", "index.docker.io/library/alpine:latest"},
		{"Registry.Example.com/app:v1", "Registry.Example.com/app:v1"},
		{"oci-layout:/tmp/airgap:v1", "oci-layout:/tmp/airgap:v1"},
		{"oci-layout:./airgap", "oci-layout:./airgap:latest"},
		{"oci-layout:/tmp/airgap@sha256:" + hex, "oci-layout:/tmp/airgap@sha256:" + hex},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ref, err := oci.ParseReference(tc.in)
			if err != nil || ref.String() != tc.want {
				t.Errorf("ParseReference(%q) = %s, %v; want %s", tc.in, ref, err, tc.want)
			}
		})
	}
}

// TestParseReferenceBad: each bad reference gives one line that quotes the
// input, says what is wrong in the user's words (and what to write, for a
// path), and names no Go package.
func TestParseReferenceBad(t *testing.T) {
	dir := t.TempDir()
	airgap := filepath.Join(dir, "airgap")
	if err := os.Mkdir(airgap, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "image.tar")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory named like an image, in the working directory.
	t.Chdir(dir)
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{"empty"}},
		{"  ", []string{"empty"}},
		{"Foo/bar", []string{`repository "Foo/bar" has uppercase letters`, "lowercase"}},
		{"localhost:5000/MyApp:v1", []string{`repository "MyApp" has uppercase letters`}},
		{"FOO", []string{`repository "FOO" has uppercase letters`}},
		{"registry.example.com/", []string{"names registry registry.example.com but no repository", "registry.example.com/REPO"}},
		{"localhost:5000/", []string{"names registry localhost:5000 but no repository"}},
		{"localhost:5000", []string{"names registry localhost:5000 but no repository", "localhost:5000/REPO"}},
		{"127.0.0.1:5000", []string{"names registry 127.0.0.1:5000 but no repository"}},
		{":v1", []string{"no repository"}},
		{"@sha256:" + strings.Repeat("ab", 32), []string{"no repository"}},
		{"localhost:5000/a//b", []string{`repository "a//b" is not a valid name`}},
		{"localhost:5000/a_-b", []string{`repository "a_-b" is not a valid name`}},
		{"img:bad tag", []string{`tag "bad tag" is not valid`}},
		{"img:-bad", []string{`tag "-bad" is not valid`}},
		{"img:" + strings.Repeat("t", 129), []string{"is not valid", "up to 128"}},
		{"img:", []string{"the tag after ':' is empty"}},
		{"img@sha256:123", []string{`digest "sha256:123" is not valid`, "64 hex digits"}},
		{"img@md5:abc", []string{`digest "md5:abc" is not valid`}},
		{"img@", []string{"the digest after '@' is empty"}},
		{"ex.com:abc/app", []string{`registry "ex.com:abc" is not a valid HOST[:PORT]`}},
		{"http://localhost:5000/app", []string{"drop the http:// scheme", "--plain-http"}},
		{"https://ghcr.io/org/app", []string{"drop the https:// scheme"}},
		{airgap, []string{`"` + airgap + `" is a directory`, "for an OCI layout write oci-layout:" + airgap}},
		{"./airgap", []string{`"./airgap" is a directory`, "write oci-layout:./airgap"}},
		{"airgap", []string{`"airgap" is a directory`, "write oci-layout:airgap"}},
		{"../" + filepath.Base(dir) + "/airgap", []string{"is a directory", "write oci-layout:../"}},
		{"/nonexistent/airgap:v1", []string{`"/nonexistent/airgap:v1" is a file path, not an image reference`, "write oci-layout:/nonexistent/airgap:v1"}},
		{"./missing", []string{"is a file path", "oci-layout:./missing"}},
		{".", []string{`"." is a directory`, "oci-layout:."}},
		{file, []string{"is a file, not an image reference", "oci-layout:DIR"}},
		{"oci-layout:", []string{`reference "oci-layout:" has no directory`}},
		{"oci-layout:@sha256:" + strings.Repeat("ab", 32), []string{"has no directory"}},
		{"oci-layout:/tmp/x@sha256:12", []string{`digest "sha256:12" is not valid`}},
		{"oci-layout:/tmp/x:", []string{"the tag after ':' is empty"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ref, err := oci.ParseReference(tc.in)
			if err == nil {
				t.Fatalf("ParseReference(%q) = %s, want an error", tc.in, ref)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message is not one line: %q", msg)
			}
			if !strings.Contains(msg, `"`+tc.in+`"`) && !strings.Contains(msg, `"`+oci.LayoutPrefix) {
				t.Errorf("message %q does not quote the input %q", msg, tc.in)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
			for _, internal := range []string{"name.", "could not parse reference", "Insecure", "go-containerregistry", "ggcr", "oras", "invalid reference:", "index.docker.io"} {
				if strings.Contains(msg, internal) {
					t.Errorf("message %q speaks of %q", msg, internal)
				}
			}
		})
	}
}
