package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
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
		code := cli.Main(context.Background(), append(app, args...), strings.NewReader(stdin), &out, &errb)
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
	// A summary refused for its age says so.
	if _, msg := cli(1, "", "verify", prod+"@"+digest, "--vsa-key", promoter+".pub", "--vsa-max-age", "1ns"); !strings.Contains(msg, "longer ago than the maximum age 1ns") {
		t.Fatalf("verify --vsa-max-age: %s", msg)
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
	if !strings.Contains(msg, "nothing was copied") || !strings.Contains(msg, "NOT VERIFIED") || out != "" {
		t.Fatalf("tampered promote: stdout %q, stderr %s", out, msg)
	}
	// One contract: stdout has the digest (dry run too), or one JSON
	// object in every outcome.
	out, _ = cli(0, "", "promote", image, prod+":dry", "--layout-key", owner, "--dry-run")
	if strings.TrimSpace(out) != digest {
		t.Fatalf("promote --dry-run printed %q, want %s", out, digest)
	}
	for _, tc := range []struct {
		code int
		src  string
		want func(j map[string]any) bool
	}{
		{1, staging + ":evil", func(j map[string]any) bool {
			return j["promoted"] == false && j["verified"] == false && j["reason"] != nil && j["error"] == nil
		}},
		{0, image, func(j map[string]any) bool {
			return j["promoted"] == false && j["dryRun"] == true && j["verified"] == true && j["digest"] == digest
		}},
	} {
		out, _ = cli(tc.code, "", "promote", tc.src, prod+":dry", "--layout-key", owner, "--dry-run", "--format", "json")
		var j map[string]any
		if err := json.Unmarshal([]byte(out), &j); err != nil || !tc.want(j) {
			t.Fatalf("promote --format json of %s: %v\n%s", tc.src, err, out)
		}
	}
	// verify: one JSON object in every outcome, reason for not verified,
	// error for could not be checked.
	for _, tc := range []struct {
		code       int
		image, key string
		field      string
	}{
		{0, image, "", ""},
		{1, staging + ":evil", "", "reason"},
		{2, "127.0.0.1:1/nothing:here", "", "error"},
	} {
		out, _ = cli(tc.code, "", "verify", tc.image, "--layout-key", owner, "--format", "json", "--timeout", "2s")
		var j map[string]any
		if err := json.Unmarshal([]byte(out), &j); err != nil || j["verified"] != (tc.code == 0) || (tc.field != "" && j[tc.field] == nil) {
			t.Fatalf("verify --format json of %s: %v\n%s", tc.image, err, out)
		}
	}
	// --quiet: nothing at all for not verified; the exit status says it.
	if out, msg = cli(1, "", "verify", staging+":evil", "--layout-key", owner, "-q"); out != "" || msg != "" {
		t.Fatalf("verify -q printed %q %q", out, msg)
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
	// The batch summary counts every image once; referrers-tag-schema tags
	// (as crane ls lists them) are skipped, not errors.
	tagSchema := staging + ":sha256-" + strings.Repeat("ab", 32)
	_, msg = cli(2, image+"\n"+staging+":evil\nnosuchhost.invalid/x:1\n"+tagSchema+"\n", "verify", "-", "--layout-key", owner)
	if !strings.Contains(msg, "4 images: 1 verified, 1 not verified, 1 could not be checked, 1 skipped (not images)") {
		t.Fatalf("batch summary: %s", msg)
	}
	out, _ = cli(0, tagSchema+"\n"+image+"\n", "verify", "-", "--layout-key", owner)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "SKIPPED "+tagSchema) || !strings.HasPrefix(lines[1], "VERIFIED ") {
		t.Fatalf("tag-schema tag in a batch:\n%s", out)
	}
}
