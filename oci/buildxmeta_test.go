package oci_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/oci"
)

const (
	metaIndexDigest  = "sha256:4f8b3c2b7e5d9b1c4c3d1e8f0a6b2c9d7e5f3a1b0c8d6e4f2a0b9c7d5e3f1a2b"
	metaConfigDigest = "sha256:2937f66a9722f7f4a2df583de2f8cb97fc9196059a410e7f00072fc918930e66"
)

// buildxMetadata is what `docker buildx build --platform linux/amd64,linux/arm64
// --push --metadata-file meta.json -t NAME -t NAME` writes (shape from
// https://docs.docker.com/reference/cli/docker/buildx/build/#metadata-file),
// with the image names and digest replaced.
func buildxMetadata(names, digest string) string {
	return `{
  "buildx.build.provenance": {
    "buildType": "https://mobyproject.org/buildkit@v1",
    "invocation": {"configSource": {"entryPoint": "Dockerfile"}, "parameters": {"frontend": "dockerfile.v0"}}
  },
  "buildx.build.ref": "mybuilder/mybuilder0/0fjb6ubs52xx3vygf6fgdl611",
  "buildx.build.warnings": {},
  "containerimage.config.digest": "` + metaConfigDigest + `",
  "containerimage.descriptor": {
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "digest": "` + digest + `",
    "size": 1609,
    "annotations": {"org.opencontainers.image.created": "2026-02-08T21:28:03Z"}
  },
  "containerimage.digest": "` + digest + `",
  "image.name": "` + names + `"
}
`
}

func TestMetadata(t *testing.T) {
	bake := `{
  "buildx.build.warnings": {},
  "webapp": ` + buildxMetadata("registry.example.com/webapp:1.0", metaIndexDigest) + `
}`
	bake2 := `{
  "db": ` + buildxMetadata("registry.example.com/db:1.0", metaIndexDigest) + `,
  "webapp": ` + buildxMetadata("registry.example.com/webapp:1.0", metaIndexDigest) + `
}`
	cases := []struct {
		name, content string // content "" means no file
		want, err     string
	}{
		{"two tags", buildxMetadata("registry.example.com/app:1.0,registry.example.com/app:latest", metaIndexDigest), "registry.example.com/app@" + metaIndexDigest, ""},
		{"registry port, no tag", buildxMetadata("localhost:5000/team/app", metaIndexDigest), "localhost:5000/team/app@" + metaIndexDigest, ""},
		{"registry port and tag", buildxMetadata("localhost:5000/team/app:v1", metaIndexDigest), "localhost:5000/team/app@" + metaIndexDigest, ""},
		{"docker hub short name", buildxMetadata("user/app:1.0", metaIndexDigest), "user/app@" + metaIndexDigest, ""},
		{"spaces and an empty name", buildxMetadata(" ,ghcr.io/org/app:sha-1a2b3c , ghcr.io/org/app:main", metaIndexDigest), "ghcr.io/org/app@" + metaIndexDigest, ""},
		{"name pinned to the same digest", buildxMetadata("ghcr.io/org/app:1.0@"+metaIndexDigest, metaIndexDigest), "ghcr.io/org/app@" + metaIndexDigest, ""},
		{"bake, one target", bake, "registry.example.com/webapp@" + metaIndexDigest, ""},

		{"missing file", "", "", "does not exist"},
		{"not JSON", `{"containerimage.digest": `, "", "not a JSON object"},
		{"a JSON array", `["containerimage.digest"]`, "", "not a JSON object"},
		{"null", `null`, "", "not a JSON object"},
		{"trailing data", buildxMetadata("r.example.com/app:1", metaIndexDigest) + "{}", "", "trailing data"},
		{"no digest (local export)", `{"buildx.build.ref": "mybuilder/mybuilder0/x", "buildx.build.warnings": {}}`, "", "no containerimage.digest"},
		{"no image.name (built without --tag)", strings.Replace(buildxMetadata("x", metaIndexDigest), `"image.name": "x"`, `"image.other": "x"`, 1), "", "no image.name"},
		{"image.name empty", buildxMetadata(" , ", metaIndexDigest), "", "image.name is empty"},
		{"image.name not a string", strings.Replace(buildxMetadata("x", metaIndexDigest), `"image.name": "x"`, `"image.name": ["x"]`, 1), "", "image.name is not a string"},
		{"image.name invalid", buildxMetadata("Registry.Example.com/App!:1", metaIndexDigest), "", "is not an image name"},
		{"name pinned to another digest", buildxMetadata("ghcr.io/org/app@"+metaConfigDigest, metaIndexDigest), "", "pinned to another digest"},
		{"sha512 digest", buildxMetadata("r.example.com/app:1", "sha512:"+strings.Repeat("ab", 64)), "", "is not sha256:<64"},
		{"short digest", buildxMetadata("r.example.com/app:1", "sha256:abc"), "", "is not sha256:<64"},
		{"upper-case digest", buildxMetadata("r.example.com/app:1", strings.ToUpper(metaIndexDigest)), "", "is not sha256:<64"},
		{"descriptor disagrees", strings.Replace(buildxMetadata("r.example.com/app:1", metaIndexDigest), `"digest": "`+metaIndexDigest, `"digest": "`+metaConfigDigest, 1), "", "containerimage.descriptor does not name"},
		{"bake, two targets", bake2, "", "targets db, webapp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "meta.json")
			if c.content != "" {
				if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := oci.ImageFromBuildxMetadata(path)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %q, %v; want a one-line error naming %s with %q", got, err, path, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
			ref, err := oci.ParseReference(got)
			if err != nil || ref.Digest.String() != metaIndexDigest {
				t.Errorf("%s does not parse as a pinned reference: %+v, %v", got, ref, err)
			}
		})
	}
}
