package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
	"github.com/referee-dev/referee/demo"
)

// TestMetadataFileNamesTheImage: after `docker buildx build --push
// --metadata-file meta.json`, attach and run --attach find the image from
// the metadata file alone.
func TestMetadataFileNamesTheImage(t *testing.T) {
	repo := serveRegistry(t) + "/app"
	dir := t.TempDir()
	image, err := demo.Run(context.Background(), demo.Options{Dir: dir, Registry: repo, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	digest := image[strings.Index(image, "@")+1:]
	meta := filepath.Join(dir, "meta.json")
	body := fmt.Sprintf(`{"buildx.build.ref":"builder/builder0/x","containerimage.config.digest":"sha256:%s","containerimage.digest":%q,"image.name":"%s:v1,%s:latest"}`, strings.Repeat("0", 64), digest, repo, repo)
	if err := os.WriteFile(meta, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "alice")
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), []string{"referee", "run", "--step-name", "scan", "--key", key, "--out", dir, "--metadata-file", meta, "--bind-image", "--", "true"}, strings.NewReader(""), &out, &errb)
	if code != 0 || !strings.HasPrefix(out.String(), "sha256:") || !strings.Contains(errb.String(), "to "+repo+"@"+digest) {
		t.Fatalf("run --metadata-file: %d %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	link, _ := filepath.Glob(filepath.Join(dir, "scan.*.link"))
	code = cli.Main(context.Background(), []string{"referee", "attach", "--metadata-file", meta, link[0]}, strings.NewReader(""), &out, &errb)
	if code != 0 || !strings.Contains(errb.String(), "already attached") {
		t.Fatalf("attach --metadata-file: %d %s %s", code, out.String(), errb.String())
	}
	code = cli.Main(context.Background(), []string{"referee", "attach", "--metadata-file", filepath.Join(dir, "nosuch.json"), link[0]}, strings.NewReader(""), &out, &errb)
	if code != 2 {
		t.Fatalf("a missing metadata file: exit %d", code)
	}
}
