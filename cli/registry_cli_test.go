package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
	"github.com/referee-dev/referee/demo"
	"github.com/referee-dev/referee/registry"
)

// TestRegistryCommands runs the registry commands end to end on referee's
// embedded registry: the demo pushes an image with its evidence, then
// verify, discover, pull and copy work on it from the command line, and
// verification passes from an OCI layout directory too.
func TestRegistryCommands(t *testing.T) {
	h, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/app"
	dir := t.TempDir()
	image, err := demo.Run(context.Background(), demo.Options{Dir: dir, Registry: repo, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	owner := filepath.Join(dir, "owner.pub")
	cli := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Main(context.Background(), append([]string{"referee"}, args...), strings.NewReader(""), &out, &errb); code != want {
			t.Fatalf("referee %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String()
	}

	if out := cli(0, "verify", image, "--layout-key", owner); !strings.Contains(out, "PASS") {
		t.Fatalf("verify: %s", out)
	}
	out := cli(1, "verify", repo+":evil", "--layout-key", owner)
	if !strings.Contains(out, `FAIL step "push", artifact "referee:image-manifest"`) {
		t.Fatalf("verify of the replayed image: %s", out)
	}

	var graph struct {
		Reference string `json:"reference"`
		Referrers []struct {
			ArtifactType string `json:"artifactType"`
		} `json:"referrers"`
	}
	if err := json.Unmarshal([]byte(cli(0, "discover", image, "--format", "json")), &graph); err != nil || len(graph.Referrers) != 4 || graph.Reference != image {
		t.Fatalf("discover: %+v %v", graph, err)
	}

	pulled := filepath.Join(t.TempDir(), "evidence")
	files := strings.Fields(cli(0, "pull", image, "--out", pulled))
	if len(files) != 4 {
		t.Fatalf("pull wrote %q", files)
	}
	if out := cli(0, "verify", "--layout", filepath.Join(pulled, "root.layout"), "--layout-key", owner, "--link-dir", pulled); !strings.Contains(out, "PASS") {
		t.Fatalf("local verify of pulled files: %s", out)
	}

	layout := "oci-layout:" + filepath.Join(t.TempDir(), "airgap")
	digest := strings.TrimSpace(cli(0, "copy", image, layout+":v1"))
	if !strings.HasSuffix(image, digest) {
		t.Fatalf("copy printed %q for %s", digest, image)
	}
	if out := cli(0, "verify", layout+":v1", "--layout-key", owner, "--format", "json"); !strings.Contains(out, `"verified": true`) {
		t.Fatalf("verify from the OCI layout: %s", out)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimPrefix(layout, "oci-layout:"), "index.json")); err != nil {
		t.Fatal(err)
	}
	// A registry error is exit 2, not a verification failure.
	cli(2, "verify", strings.TrimPrefix(srv.URL, "http://")+"/nosuch:v1", "--layout-key", owner)
}
