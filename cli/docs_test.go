package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// TestLayoutSpecDocBuilds keeps docs/layout-spec.md true: its example spec
// must build and sign a layout.
func TestLayoutSpecDocBuilds(t *testing.T) {
	doc, err := os.ReadFile("../docs/layout-spec.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no yaml block in docs/layout-spec.md")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "layout.yaml"), m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"owner", "keys/alice", "keys/bob", "keys/carol"} {
		var out, errb bytes.Buffer
		if code := cli.Main(ctx, []string{"referee", "keygen", filepath.Join(dir, k)}, strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("keygen %s: %d %s", k, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	code := cli.Main(ctx, []string{"referee", "layout", "create", "--spec", filepath.Join(dir, "layout.yaml"), "--key", filepath.Join(dir, "owner"), "--out", filepath.Join(dir, "root.layout")}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("layout create from the documented spec: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := cli.Main(ctx, []string{"referee", "layout", "show", filepath.Join(dir, "root.layout")}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("layout show: %d %s", code, errb.String())
	}
	for _, want := range []string{"step build: threshold 2", "step test:", "inspection untar: runs tar -xf app.tar"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("layout show lacks %q:\n%s", want, out.String())
		}
	}
	// The doc says lint finds one thing in it: the command inspection.
	out.Reset()
	errb.Reset()
	code = cli.Main(ctx, []string{"referee", "layout", "lint", filepath.Join(dir, "layout.yaml")}, strings.NewReader(""), &out, &errb)
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); code != cli.ExitNotVerified || len(lines) != 1 || !strings.HasPrefix(lines[0], `command-inspection (warning): inspection "untar"`) {
		t.Errorf("layout lint of the documented spec: exit %d, %q %q", code, out.String(), errb.String())
	}
}
