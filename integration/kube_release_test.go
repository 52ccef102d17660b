//go:build integration

package integration_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/referee-dev/referee/release"
)

// TestKubeReleaseImage is referee admitting its own image at its own door
// (issue 12, "referee's own image, verified by referee"): release/pipeline.sh
// builds referee's image without docker into a local registry, recording
// its build, test and package steps with referee and attaching them; the
// image holds a referee that runs; and `referee webhook serve` with the
// policy deploy/policy.yaml ships (its placeholder keys replaced by this
// test's) admits a Deployment and a Pod of that image by digest in front of
// a real kube-apiserver, and refuses the same repository's image that has
// no supply chain, and the image by tag (requireDigest).
func TestKubeReleaseImage(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skip("release/pipeline.sh builds a commit: the source is not a git checkout")
	}
	k := startKube(t, kubeOptions{})
	dir := t.TempDir()
	_, host := startRefereeRegistry(t, dir)
	keys := filepath.Join(dir, "keys")
	mkdirs(t, keys)
	for _, name := range []string{"owner", "builder", "tester"} {
		must(t, keys, refereeBin, "keygen", name)
	}

	// The release, tested on its own package (the whole suite is CI's).
	repo := host + "/referee-dev/referee"
	r := exeIO(t, runIO{dir: root, env: []string{"KEYS=" + keys, "REFEREE=" + refereeBin, "WORK=" + filepath.Join(dir, "release"),
		"TEST_PACKAGES=./release/", "VERSION=v0.0.0-e2e"}}, "bash", filepath.Join(root, "release", "pipeline.sh"), repo+":v0.0.0-e2e")
	if r.code != 0 {
		t.Fatalf("release/pipeline.sh:\n%s", r)
	}
	ref := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(ref, repo+"@sha256:") {
		t.Fatalf("release/pipeline.sh printed %q, want %s@sha256:…", ref, repo)
	}
	t.Logf("released %s", ref)
	d := referee(t, "", "discover", ref)
	for _, step := range []string{"step build", "step test", "step package", "(layout, keys"} {
		if !strings.Contains(d.stdout, step) {
			t.Errorf("discover %s does not show %s:\n%s", ref, step, d)
		}
	}

	// The image's binary is a referee that runs, stamped with the version.
	bin := filepath.Join(dir, "referee-from-image")
	extractFile(t, ref, release.BinaryPath, bin)
	if v := must(t, dir, bin, "version"); !strings.Contains(v.stdout, "v0.0.0-e2e") {
		t.Errorf("the image's referee says:\n%s", v)
	}

	// The shipped policy, with this test's keys for its placeholders.
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	unmarshalYAML(t, readFile(t, filepath.Join(root, "deploy", "policy.yaml")), &cm)
	etc := filepath.Join(dir, "etc")
	mkdirs(t, etc)
	for f, v := range cm.Data {
		writeFile(t, filepath.Join(etc, f), v)
	}
	if _, ok := cm.Data["referee-release.pub"]; !ok {
		t.Fatalf("deploy/policy.yaml has no referee-release.pub: %v", cm.Data)
	}
	writeFile(t, filepath.Join(etc, "referee-release.pub"), readFile(t, filepath.Join(keys, "owner.pub")))
	must(t, dir, refereeBin, "keygen", filepath.Join(dir, "shop-owner"))
	writeFile(t, filepath.Join(etc, "owner.pub"), readFile(t, filepath.Join(dir, "shop-owner.pub")))
	policy := filepath.Join(etc, "policy.yaml")
	if c := referee(t, "", "webhook", "check-config", policy); c.code != 0 {
		t.Fatalf("check-config of the shipped policy:\n%s", c)
	}

	// Another image in the same repository, with no supply chain.
	other := release.ImageOptions{Binary: []byte("not referee")}
	img, err := release.Image(other)
	if err != nil {
		t.Fatal(err)
	}
	unrecorded, err := release.Push(context.Background(), img, repo+":unrecorded")
	if err != nil {
		t.Fatal(err)
	}

	wh := startRefereeWebhook(t, dir, policy)
	k.apply(t, admissionYAML("referee", wh.url+"/verify", wh.ca, []string{"tools"}))
	k.namespace(t, "tools")
	k.waitDenied(t, podYAML("tools", "probe", unrecorded))

	if c := k.kubectl(t, deploymentYAML("tools", "referee", ref), "create", "-f", "-"); c.code != 0 {
		t.Fatalf("a Deployment of referee's released image: refused\n%s", c)
	}
	if c := k.kubectl(t, podYAML("tools", "referee", ref), "create", "-f", "-"); c.code != 0 {
		t.Fatalf("a Pod of referee's released image: refused\n%s", c)
	}
	for what, c := range map[string]result{
		"an image of the repository with no supply chain": k.kubectl(t, deploymentYAML("tools", "unrecorded", unrecorded), "create", "-f", "-"),
		"the released image by tag":                       k.kubectl(t, podYAML("tools", "tagged", repo+":v0.0.0-e2e"), "create", "-f", "-"),
	} {
		if c.code == 0 || !strings.Contains(c.stderr, webhookDenied) || !strings.Contains(c.stderr, `policy "referee"`) {
			t.Errorf("%s: want refused under policy \"referee\"\n%s", what, c)
		}
		t.Logf("%s: %s", what, strings.TrimSpace(c.stderr))
	}
}

// extractFile writes the file at path in the image ref's filesystem (its
// layers flattened, mutate.Extract) to out.
func extractFile(t *testing.T, ref, path, out string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	fs := mutate.Extract(img)
	defer fs.Close()
	tr := tar.NewReader(fs)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s has no %s", ref, path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if "/"+h.Name == path {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, b, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}
