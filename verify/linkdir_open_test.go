package verify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/verify"
)

// TestOpenLinkDirPeers verifies the references' supply chains read with
// OpenLinkDir, as TestPeerSupplyChains does with LoadLinkDir.
func TestOpenLinkDirPeers(t *testing.T) {
	for _, dir := range []string{"python-rsa", "python-ed25519", "golang"} {
		t.Run(dir, func(t *testing.T) {
			r, err := verifyFiles(t, filepath.Join(peers, dir), "root.layout", "owner.pub", verify.OpenLinkDir, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil || !r.Verified || len(r.Steps) != 2 {
				t.Fatalf("%v\n%s", err, reportText(r))
			}
		})
	}
}

// TestOpenLinkDirBadFile: a link file that is no signed document is an
// error naming it, not a verification failure, with either loader.
func TestOpenLinkDirBadFile(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":       "not json",
		"truncated":      `{"signed":{"_type":"link"`,
		"a repeated key": `{"signed":{"_type":"link","name":"a","name":"b"},"signatures":[],"signatures":[]}`,
		"empty":          "",
		"a PEM file":     "-----BEGIN PUBLIC KEY-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := newChain(t, "f")
			c.step("build", 1, []string{"f"}, nil, nil)
			dir := t.TempDir()
			bad := filepath.Join(dir, "build.0123abcd.link")
			if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, loadErr := verify.LoadLinkDir(dir)
			links, err := verify.OpenLinkDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.verify(links...)
			if err == nil || verify.IsNotVerified(err) || !strings.Contains(err.Error(), bad) {
				t.Fatalf("Verify: %v; want an error naming %s", err, bad)
			}
			if loadErr == nil || loadErr.Error() != err.Error() {
				t.Fatalf("OpenLinkDir then Verify: %v; LoadLinkDir: %v", err, loadErr)
			}
		})
	}
}
