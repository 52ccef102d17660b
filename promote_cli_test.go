package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/demo"
	"github.com/referee-dev/referee/registry"
)

func serveRegistry(t *testing.T) string {
	t.Helper()
	h, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPromoteAndVSACommands: promote copies only a verified image, the VSA
// is accepted by verify --vsa-key, promote is idempotent, and many images
// read from stdin are verified with one line each and the right exit code.
func TestPromoteAndVSACommands(t *testing.T) {
	staging, prod := serveRegistry(t)+"/app", serveRegistry(t)+"/app"
	dir := t.TempDir()
	image, err := demo.Run(context.Background(), demo.Options{Dir: dir, Registry: staging, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	owner := filepath.Join(dir, "owner.pub")
	promoter := filepath.Join(t.TempDir(), "promoter")
	cli := func(want int, stdin string, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		app := []string{"referee"}
		code := runWithStdin(context.Background(), append(app, args...), strings.NewReader(stdin), &out, &errb)
		if code != want {
			t.Fatalf("referee %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	cli(0, "", "keygen", promoter)
	digest := image[strings.Index(image, "@")+1:]

	out, _ := cli(0, "", "promote", image, prod+":1.0", "--layout-key", owner, "--key", promoter)
	if strings.TrimSpace(out) != digest {
		t.Fatalf("promote printed %q, want %s", out, digest)
	}
	out, _ = cli(0, "", "verify", prod+"@"+digest, "--vsa-key", promoter+".pub")
	if !strings.Contains(out, "verified by a verification summary") {
		t.Fatalf("verify --vsa-key: %s", out)
	}
	count := func() int {
		var g struct{ Referrers []json.RawMessage }
		o, _ := cli(0, "", "discover", prod+":1.0", "--format", "json")
		if err := json.Unmarshal([]byte(o), &g); err != nil {
			t.Fatal(err)
		}
		return len(g.Referrers)
	}
	before := count()
	_, msg := cli(0, "", "promote", image, prod+":1.0", "--layout-key", owner, "--key", promoter)
	if !strings.Contains(msg, "kept the existing verification summary") || count() != before || before != 5 {
		t.Fatalf("second promote: %s (referrers %d then %d)", msg, before, count())
	}

	// The demo's replayed image does not get promoted; nothing is copied.
	out, msg = cli(1, "", "promote", staging+":evil", prod+":evil", "--layout-key", owner, "--key", promoter)
	if !strings.Contains(msg, "nothing was copied") || !strings.Contains(out, "NOT VERIFIED") {
		t.Fatalf("tampered promote: %s %s", out, msg)
	}
	cli(2, "", "discover", prod+":evil")

	// Without a VSA and without a layout key: not verified (exit 1).
	cli(1, "", "verify", image, "--vsa-key", promoter+".pub")
	// Falls back to full verification with --layout-key.
	cli(0, "", "verify", image, "--vsa-key", promoter+".pub", "--layout-key", owner)

	// Many images from stdin: one line each, in input order.
	stdin := image + "\n# a comment\n" + staging + ":evil\n\n" + prod + ":1.0\n"
	out, _ = cli(1, stdin, "verify", "-", "--layout-key", owner, "--parallel", "3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "VERIFIED ") || !strings.HasPrefix(lines[1], "NOT-VERIFIED ") || !strings.HasPrefix(lines[2], "VERIFIED ") {
		t.Fatalf("bulk verify:\n%s", out)
	}
	out, _ = cli(0, image+"\n", "verify", "-", "--layout-key", owner, "--format", "json")
	var line struct {
		Verified bool   `json:"verified"`
		Digest   string `json:"digest"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil || !line.Verified || line.Digest != digest {
		t.Fatalf("bulk json: %s %v", out, err)
	}
	out, _ = cli(1, stdin, "verify", "-", "--layout-key", owner, "--quiet")
	if out != "" {
		t.Fatalf("--quiet printed %q", out)
	}
	cli(2, "nosuchhost.invalid/x:1\n", "verify", "-", "--layout-key", owner)
}
