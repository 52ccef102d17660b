package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/cli"
	"github.com/referee-dev/referee/demo"
)

// demoImage runs the demo against a fresh embedded registry and returns
// the image reference (pinned) and the demo's directory (owner.pub, keys).
func demoImage(t *testing.T) (image, dir string) {
	t.Helper()
	dir = t.TempDir()
	image, err := demo.Run(context.Background(), demo.Options{Dir: dir, Registry: serveRegistry(t) + "/app", Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return image, dir
}

type discovered struct {
	Reference string `json:"reference"`
	Referrers []struct {
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	} `json:"referrers"`
}

func discover(t *testing.T, image string) discovered {
	t.Helper()
	var g discovered
	if err := json.Unmarshal([]byte(mustCLI(t, "discover", image, "--format", "json")), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// referrerOf returns the digest of the image's referrer of that kind.
func referrerOf(t *testing.T, g discovered, kind string) string {
	t.Helper()
	for _, r := range g.Referrers {
		if r.Annotations["dev.referee.in-toto.kind"] == kind {
			return r.Digest
		}
	}
	t.Fatalf("no %s referrer in %+v", kind, g)
	return ""
}

// TestReadingEvidence: layout show and link show read files and OCI
// references, as text and JSON; pull says which layout is current.
func TestReadingEvidence(t *testing.T) {
	image, dir := demoImage(t)
	repo := image[:strings.Index(image, "@")]
	g := discover(t, image)
	layoutRef, linkRef := repo+"@"+referrerOf(t, g, "layout"), repo+"@"+referrerOf(t, g, "link")

	out := mustCLI(t, "layout", "show", layoutRef)
	if !strings.Contains(out, "step push: threshold 1") {
		t.Errorf("layout show of a reference:\n%s", out)
	}
	var doc struct {
		Source     string   `json:"source"`
		Signatures []string `json:"signatures"`
		Document   struct {
			Type  string `json:"_type"`
			Steps []any  `json:"steps"`
		} `json:"document"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "layout", "show", layoutRef, "--format", "json")), &doc); err != nil ||
		doc.Source != layoutRef || doc.Document.Type != "layout" || len(doc.Document.Steps) != 3 || len(doc.Signatures) != 1 {
		t.Errorf("layout show --format json: %v %+v", err, doc)
	}
	out = mustCLI(t, "link", "show", linkRef)
	for _, w := range []string{"link for step ", "signatures (unverified): ", "materials: ", "products: "} {
		if !strings.Contains(out, w) {
			t.Errorf("link show lacks %q:\n%s", w, out)
		}
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "link", "show", linkRef, "--format", "json")), &doc); err != nil || doc.Document.Type != "link" {
		t.Errorf("link show --format json: %v %+v", err, doc)
	}
	// The wrong kind says which command reads it.
	code, _, stderr := referee(t, "layout", "show", linkRef)
	if code != cli.ExitError || !strings.Contains(stderr, "holds an in-toto link, not a layout (referee link show reads it)") {
		t.Errorf("layout show of a link: %d %s", code, stderr)
	}
	checkOneLine(t, stderr)

	// key id: names with several files; JSON.
	var keys struct {
		Keys []struct{ File, KeyID string }
	}
	owner := filepath.Join(dir, "owner.pub")
	if err := json.Unmarshal([]byte(mustCLI(t, "key", "id", "--format", "json", owner, owner)), &keys); err != nil || len(keys.Keys) != 2 || keys.Keys[0].File != owner || len(keys.Keys[0].KeyID) != 64 {
		t.Errorf("key id --format json: %v %+v", err, keys)
	}

	// pull: root.layout is the current one, and says so.
	outDir := filepath.Join(t.TempDir(), "evidence")
	code, stdout, stderr := referee(t, "pull", image, "--out", outDir)
	if code != cli.ExitOK || !strings.Contains(stdout, filepath.Join(outDir, "root.layout")) || !strings.Contains(stderr, "root.layout is the one layout attached") {
		t.Errorf("pull: %d\n%s\n%s", code, stdout, stderr)
	}
	// Into a directory that is not empty: refused, nothing changed.
	if code, _, stderr := referee(t, "pull", image, "--out", outDir); code != cli.ExitError || !strings.Contains(stderr, "not empty") {
		t.Errorf("pull into a full directory: %d %s", code, stderr)
	}
	var pulled struct {
		Image   string `json:"image"`
		Files   []any  `json:"files"`
		Current struct {
			Path string `json:"path"`
		} `json:"current"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "pull", image, "--out", outDir, "--format", "json", "--force")), &pulled); err != nil || pulled.Image != image || len(pulled.Files) != 4 {
		t.Errorf("pull --format json: %v %+v", err, pulled)
	}
	// -q prints nothing at all on success.
	if code, stdout, stderr := referee(t, "pull", image, "--out", outDir, "-q", "--force"); code != 0 || stdout != "" || stderr != "" {
		t.Errorf("pull -q: %d %q %q", code, stdout, stderr)
	}
}

// TestDetachCommand: detach removes exactly the named referrer, refuses
// what is not a referrer of the image, and is idempotent.
func TestDetachCommand(t *testing.T) {
	image, _ := demoImage(t)
	repo := image[:strings.Index(image, "@")]
	before := discover(t, image)
	link := referrerOf(t, before, "link")
	out := mustCLI(t, "detach", image, link)
	if strings.TrimSpace(out) != link {
		t.Fatalf("detach printed %q, want %s", out, link)
	}
	after := discover(t, image)
	if len(after.Referrers) != len(before.Referrers)-1 {
		t.Fatalf("after detach: %d referrers, before %d", len(after.Referrers), len(before.Referrers))
	}
	for _, r := range after.Referrers {
		if r.Digest == link {
			t.Fatalf("%s still listed", link)
		}
	}
	// Again: nothing to do, exit 0, nothing on stdout.
	code, stdout, stderr := referee(t, "detach", image, link)
	if code != cli.ExitOK || stdout != "" || !strings.Contains(stderr, "not attached") {
		t.Fatalf("second detach: %d %q %q", code, stdout, stderr)
	}
	// The image itself is not a referrer of itself: refused, kept.
	imageDigest := image[strings.Index(image, "@")+1:]
	code, _, stderr = referee(t, "detach", image, imageDigest)
	if code != cli.ExitError {
		t.Fatalf("detach of the image: exit %d", code)
	}
	checkOneLine(t, stderr)
	mustCLI(t, "discover", repo+"@"+imageDigest)
}

// TestRunChecksBeforeRunning: what can be checked is checked before the
// step's command runs; a missing product is recorded as absent (as
// in-toto-run); the command's stdout goes to stderr unless --quiet.
func TestRunChecksBeforeRunning(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	mustCLI(t, "keygen", "alice")
	marker := filepath.Join(dir, "marker")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"step name with a slash", []string{"-n", "../x", "-k", "alice"}, "--step-name"},
		{"unreachable attach registry", []string{"-n", "x", "-k", "alice", "--attach", "127.0.0.1:1/app:v1"}, "127.0.0.1:1"},
		{"public key to sign with", []string{"-n", "x", "-k", "alice.pub"}, "public key"},
		{"missing key", []string{"-n", "x", "-k", "nope"}, "nope"},
		{"attach and metadata file", []string{"-n", "x", "-k", "alice", "--attach", "a/b:c", "--metadata-file", "m.json"}, "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := referee(t, append(append([]string{"run"}, tc.args...), "--", "touch", marker)...)
			if code != cli.ExitError || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q (want %q)", code, stdout, stderr, tc.want)
			}
			checkOneLine(t, stderr)
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the command ran")
			}
		})
	}

	code, stdout, stderr := referee(t, "run", "-n", "build", "-k", "alice", "-p", "absent.tar", "-p", "made.txt", "--", "sh", "-c", "echo made > made.txt; echo from-the-command")
	if code != cli.ExitOK || !strings.Contains(stderr, "product absent.tar does not exist") || !strings.Contains(stderr, "from-the-command") || strings.Contains(stdout, "from-the-command") {
		t.Fatalf("run with a missing product: %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	env, err := attest.ReadEnvelopeFile(strings.TrimSpace(stdout), attest.DefaultMaxFileSize)
	if err != nil {
		t.Fatal(err)
	}
	link, err := attest.ParseLink(env.Payload)
	if err != nil || len(link.Products) != 1 || link.Products["made.txt"] == nil {
		t.Fatalf("link products %v %v", link.Products, err)
	}
	// --quiet: no result printed, so the command's stdout stays on stdout.
	code, stdout, stderr = referee(t, "run", "-q", "-n", "build", "-k", "alice", "--", "echo", "from-the-command")
	if code != cli.ExitOK || stdout != "from-the-command\n" || stderr != "" {
		t.Fatalf("run -q: %d %q %q", code, stdout, stderr)
	}
}

// TestMessagesSpeakTheUsersWords: bad input gets one line naming the file
// and the problem, exit 2, no Go names.
func TestMessagesSpeakTheUsersWords(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	mustCLI(t, "keygen", "owner")
	mustCLI(t, "keygen", "alice")
	write := func(name, content string) string {
		t.Helper()
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	write("typo.yaml", "expires: 1mo\nfunctionaries: {a: alice.pub}\nsteps:\n  - name: build\n    functionaries: [a]\n    expected_product: [CREATE x]\n")
	write("nokeys.yaml", "expires: 1mo\nfunctionaries: {a: alice.pub}\nsteps:\n  - name: build\n")
	write("private.yaml", "expires: 1mo\nfunctionaries: {a: alice}\nsteps:\n  - name: build\n    functionaries: [a]\n")
	write("good.yaml", "expires: 1mo\nfunctionaries: {a: alice.pub}\nsteps:\n  - name: build\n    functionaries: [a]\n")
	mustCLI(t, "layout", "create", "--spec", "good.yaml", "-k", "owner", "--out", "root.layout")
	if err := os.Mkdir("airgap", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"spec field typo", []string{"layout", "create", "--spec", "typo.yaml", "-k", "owner", "--out", "x.layout"}, []string{"typo.yaml", "line 6", `unknown field "expected_product"`, "expected_products"}},
		{"step without functionaries", []string{"layout", "create", "--spec", "nokeys.yaml", "-k", "owner", "--out", "x.layout"}, []string{"nokeys.yaml", `step "build" has no functionaries`}},
		{"private key as functionary", []string{"layout", "create", "--spec", "private.yaml", "-k", "owner", "--out", "x.layout"}, []string{"alice", "is a private key", "alice.pub"}},
		{"private key as layout key", []string{"verify", "-l", "root.layout", "-k", "owner"}, []string{"owner", "is a private key", "owner.pub"}},
		{"layout as a key", []string{"key", "id", "root.layout"}, []string{"root.layout", "is a signed in-toto layout", "not a key file"}},
		{"public key given to attach", []string{"attach", "localhost:1/app:v1", "owner.pub"}, []string{"owner.pub", "is a PEM file"}},
		{"directory as image", []string{"discover", "./airgap"}, []string{`"./airgap" is a directory`, "oci-layout:./airgap"}},
		{"uppercase repository", []string{"discover", "localhost:5000/App:v1"}, []string{`"localhost:5000/App:v1"`, "uppercase"}},
		{"bad digest", []string{"discover", "localhost:5000/app@sha256:zz"}, []string{`"sha256:zz"`, "64 hex digits"}},
		{"registry without repository", []string{"discover", "localhost:5000"}, []string{"localhost:5000", "repository"}},
		{"unknown key type", []string{"keygen", "--type", "dsa", "k"}, []string{"--type", `"dsa"`}},
		{"missing layout file", []string{"verify", "-l", "nope.layout", "-k", "owner.pub"}, []string{"nope.layout", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := referee(t, tc.args...)
			if code != cli.ExitError || stdout != "" {
				t.Errorf("exit %d, stdout %q", code, stdout)
			}
			checkOneLine(t, stderr)
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
		})
	}
	// A wrong layout key says who did sign, and when the layout expires.
	code, stdout, _ := referee(t, "verify", "-l", "root.layout", "-k", "alice.pub", "-d", ".")
	ownerID := strings.TrimSpace(mustCLI(t, "key", "id", "owner.pub"))
	if code != cli.ExitNotVerified || !strings.Contains(stdout, ownerID[:8]) || !strings.Contains(stdout, "expires 20") || strings.Contains(stdout, "(nobody)") {
		t.Errorf("wrong layout key: %d\n%s", code, stdout)
	}
}

// TestKeyExport: a key exported as securesystemslib JSON keeps its keyid
// and signs; a private key is written 0600 and never over a file.
func TestKeyExport(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	id := strings.TrimSpace(mustCLI(t, "keygen", "alice"))
	pub := mustCLI(t, "key", "export", "--format", "securesystemslib", "alice.pub")
	if !strings.Contains(pub, `"keytype": "ed25519"`) && !strings.Contains(pub, `"keytype":"ed25519"`) {
		t.Fatalf("exported public key: %s", pub)
	}
	if err := os.WriteFile("alice.pub.json", []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, "key", "export", "alice", "--out", "alice.json")
	if st, err := os.Stat("alice.json"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private export mode: %v %v", st, err)
	}
	for _, f := range []string{"alice.pub.json", "alice.json"} {
		if got := strings.TrimSpace(mustCLI(t, "key", "id", f)); got != id {
			t.Errorf("key id %s = %s, want %s", f, got, id)
		}
	}
	// The exported private key signs a link that the PEM public key verifies.
	mustCLI(t, "run", "-n", "build", "-k", "alice.json", "--", "true")
	if code, _, stderr := referee(t, "key", "export", "alice", "--out", "alice.json"); code != cli.ExitError || !strings.Contains(stderr, "exists") {
		t.Errorf("export over a file: %d %s", code, stderr)
	}
	if code, _, stderr := referee(t, "key", "export", "--format", "jwk", "alice"); code != cli.ExitError || !strings.Contains(stderr, `"jwk"`) {
		t.Errorf("unknown format: %d %s", code, stderr)
	}
}

// TestWhatTheNewcomerFound: the cases a newcomer's review turned up.
func TestWhatTheNewcomerFound(t *testing.T) {
	image, dir := demoImage(t)
	t.Chdir(t.TempDir())
	// copy to an OCI layout without a tag says it is untagged, and the
	// layout holds the image by digest.
	code, stdout, stderr := referee(t, "copy", image, "oci-layout:./cp")
	digest := image[strings.Index(image, "@")+1:]
	if code != cli.ExitOK || strings.TrimSpace(stdout) != digest || !strings.Contains(stderr, "untagged") || strings.Contains(stderr, ":latest") {
		t.Errorf("copy without a tag: %d %q %q", code, stdout, stderr)
	}
	mustCLI(t, "discover", "oci-layout:./cp@"+digest)
	// discover takes text as the tree.
	if out := mustCLI(t, "discover", image, "--format", "text"); !strings.Contains(out, "├── ") {
		t.Errorf("discover --format text:\n%s", out)
	}
	// layout show of an image says where its layouts are.
	code, _, stderr = referee(t, "layout", "show", image)
	if code != cli.ExitError || !strings.Contains(stderr, "is an image") || !strings.Contains(stderr, "referee discover") {
		t.Errorf("layout show of an image: %d %s", code, stderr)
	}
	checkOneLine(t, stderr)
	// A file here named like a bare reference is not sent to Docker Hub.
	if err := os.WriteFile("root.layout", []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = referee(t, "discover", "root.layout")
	if code != cli.ExitError || !strings.Contains(stderr, `"root.layout" is a file here`) {
		t.Errorf("discover of a file: %d %s", code, stderr)
	}
	// sign: --metablock cannot change an envelope's form; --out does not
	// replace another file without --force.
	mustCLI(t, "keygen", "bob")
	link := strings.TrimSpace(mustCLI(t, "run", "-n", "x", "-k", "bob", "--", "true"))
	if code, _, stderr := referee(t, "sign", "-k", "bob", "--metablock", link); code != cli.ExitError || !strings.Contains(stderr, "DSSE") {
		t.Errorf("sign --metablock of DSSE: %d %s", code, stderr)
	}
	if err := os.WriteFile("other.link", []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := referee(t, "sign", "-k", "bob", "-o", "other.link", link); code != cli.ExitError || !strings.Contains(stderr, "exists") {
		t.Errorf("sign -o over a file: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile("other.link"); string(b) != "precious" {
		t.Errorf("sign -o replaced another file")
	}
	mustCLI(t, "sign", "-k", "bob", "-o", "other.link", "--force", link)
	// promote --level: a summary with other levels is a new summary.
	promoter := filepath.Join(dir, "promoter")
	mustCLI(t, "keygen", promoter)
	owner := filepath.Join(dir, "owner.pub")
	prod := image[:strings.LastIndex(image, "/")] + "/prod:1"
	mustCLI(t, "promote", image, prod, "--layout-key", owner, "--key", promoter)
	_, _, stderr = referee(t, "promote", image, prod, "--layout-key", owner, "--key", promoter)
	if !strings.Contains(stderr, "kept the existing") {
		t.Errorf("second promote: %s", stderr)
	}
	_, _, stderr = referee(t, "promote", image, prod, "--layout-key", owner, "--key", promoter, "--level", "ACME_REVIEWED")
	if !strings.Contains(stderr, "attached verification summary") {
		t.Errorf("promote with other levels: %s", stderr)
	}
}

// TestMinLayoutVersionByImageSet: --min-layout-version PATTERN=N raises the
// floor for the images it matches only; N alone for every image.
func TestMinLayoutVersionByImageSet(t *testing.T) {
	image, dir := demoImage(t)
	host := image[:strings.Index(image, "/")]
	other := host + "/other:v1"
	mustCLI(t, "copy", image, other)
	owner := filepath.Join(dir, "owner.pub")
	stdin := image + "\n" + other + "\n"
	code, stdout, _ := refereeStdin(t, stdin, "verify", "-", "-k", owner, "--min-layout-version", host+"/app=2")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != cli.ExitNotVerified || len(lines) != 2 || !strings.HasPrefix(lines[0], "NOT-VERIFIED ") || !strings.Contains(lines[0], "version") || !strings.HasPrefix(lines[1], "VERIFIED ") {
		t.Fatalf("floor for one repository: %d\n%s", code, stdout)
	}
	if code, stdout, _ := refereeStdin(t, stdin, "verify", "-", "-k", owner, "--min-layout-version", "**/nothing=5", "--min-layout-version", "1"); code != cli.ExitOK {
		t.Fatalf("floors that allow both: %d\n%s", code, stdout)
	}
	if code, _, stderr := referee(t, "promote", image, host+"/prod:1", "--layout-key", owner, "--dry-run", "--min-layout-version", "**=2"); code != cli.ExitNotVerified {
		t.Fatalf("promote under a floor: %d %s", code, stderr)
	}
	code, _, stderr := referee(t, "verify", image, "-k", owner, "--min-layout-version", "app=x")
	if code != cli.ExitError || !strings.Contains(stderr, `"app=x"`) {
		t.Fatalf("bad floor: %d %s", code, stderr)
	}
}

// TestShowQuotesWhatADocumentSays: link show and layout show print no
// terminal control that a document carries.
func TestShowQuotesWhatADocumentSays(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	mustCLI(t, "keygen", "alice")
	path := strings.TrimSpace(mustCLI(t, "run", "-n", "x", "-k", "alice", "--", "echo", "\x1b]0;pwned\x07\x1b[2J\x1b[32mPASS\r"))
	out := mustCLI(t, "link", "show", path)
	if strings.ContainsAny(out, "\x1b\x07\r") {
		t.Fatalf("link show printed control characters: %q", out)
	}
	if !strings.Contains(out, `\x1b[2J`) {
		t.Errorf("link show does not show the escaped command: %s", out)
	}
}
