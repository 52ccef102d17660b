package release_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/referee-dev/referee/internal/testenv"
	"github.com/referee-dev/referee/release"
)

func options() release.ImageOptions {
	return release.ImageOptions{
		Binary:   []byte("#!/not/really/an/elf\n"),
		CABundle: []byte("-----BEGIN CERTIFICATE-----\n"),
		Created:  time.Unix(1700000000, 0),
		Labels:   map[string]string{"org.opencontainers.image.version": "v1.2.3"},
	}
}

// TestImage checks the image is what the deployment expects: an OCI image
// for linux/amd64 whose entrypoint is the binary, run as a numeric
// non-root user, one layer holding exactly the binary (executable) and the
// CA bundle, and the same digest from the same options.
func TestImage(t *testing.T) {
	img, err := release.Image(options())
	if err != nil {
		t.Fatal(err)
	}
	again, err := release.Image(options())
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("the same options gave %s and %s", d1, d2)
	}
	other := options()
	other.Binary = []byte("another binary")
	if d3, _ := must(release.Image(other)).Digest(); d3 == d1 {
		t.Errorf("another binary gave the same digest %s", d3)
	}

	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want OCI", mt)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != release.BinaryPath {
		t.Errorf("entrypoint %q", got)
	}
	if cf.Config.User != release.User || strings.HasPrefix(cf.Config.User, "0") {
		t.Errorf("user %q", cf.Config.User)
	}
	if !cf.Created.Time.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("created %v", cf.Created)
	}
	if cf.Config.Labels["org.opencontainers.image.version"] != "v1.2.3" {
		t.Errorf("labels %v", cf.Config.Labels)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files["/"+h.Name] = fmt.Sprintf("%o %s", h.Mode, b)
		}
		if h.Uid != 0 || !h.ModTime.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: uid %d, mtime %v", h.Name, h.Uid, h.ModTime)
		}
	}
	want := map[string]string{
		release.BinaryPath: "755 #!/not/really/an/elf\n",
		release.CAPath:     "644 -----BEGIN CERTIFICATE-----\n",
	}
	if fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("layer files %v, want %v", files, want)
	}
}

// TestPush pushes the image to a registry and reads it back by the digest
// reference Push printed.
func TestPush(t *testing.T) {
	host := testenv.Registry(t, true)
	img := must(release.Image(options()))
	ref, err := release.Push(context.Background(), img, host+"/referee-dev/referee:v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if want := host + "/referee-dev/referee@" + d.String(); ref != want {
		t.Errorf("Push returned %s, want %s", ref, want)
	}
	got, err := remote.Image(must(name.ParseReference(host + "/referee-dev/referee:v1.2.3")))
	if err != nil {
		t.Fatal(err)
	}
	if gd, _ := got.Digest(); gd != d {
		t.Errorf("the tag names %s, want %s", gd, d)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := release.Image(release.ImageOptions{}); err == nil || !strings.Contains(err.Error(), "no referee binary") {
		t.Errorf("an empty binary: %v", err)
	}
	img := must(release.Image(options()))
	for _, ref := range []string{"referee-dev/referee", "127.0.0.1:1/referee-dev/referee@sha256:" + strings.Repeat("0", 64), "127.0.0.1:1/Referee:v1"} {
		if _, err := release.Push(context.Background(), img, ref); err == nil || !strings.Contains(err.Error(), "not a tag reference") {
			t.Errorf("Push(%q): %v, want a refusal", ref, err)
		}
	}
	if _, err := release.ReadOptions(t.TempDir()+"/missing", ""); err == nil || !strings.Contains(err.Error(), "referee binary") {
		t.Errorf("a missing binary: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// ExampleImage builds the image of a binary and prints where it runs from.
func ExampleImage() {
	img, err := release.Image(release.ImageOptions{Binary: []byte("…")})
	if err != nil {
		fmt.Println(err)
		return
	}
	cf, _ := img.ConfigFile()
	fmt.Println(cf.OS, cf.Architecture, cf.Config.Entrypoint, cf.Config.User)
	// Output: linux amd64 [/usr/bin/referee] 65532:65532
}
