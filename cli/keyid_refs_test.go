package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/cli"
)

// TestKeyIDReferenceData: `referee key id` prints the keyids the
// references' own test data expects — in-toto-golang's TestLoadKeyDefaults
// (P-384, P-521, an X.509 certificate) and the in-toto/demo repository,
// whose links current in-toto names after the second generation's ids
// (bob 210dcc50, carl be06db20) for keys 1.3 calls 776a00e2 and 2f89b927.
func TestKeyIDReferenceData(t *testing.T) {
	td := filepath.Join("..", "attest", "testdata")
	for _, tc := range []struct {
		file, keyid, current string
	}{
		{"ingolang/grace.pub", "a5fe82bffd11c43cd25b41b427496dea8eb61505bfa11907a6a565ebb00fa323", ""},
		{"ingolang/frank.pub", "0ab02fd8a1195d902d4e71df38123be0d3fa9ea45ebc6e1246d8e82179acb6dd", ""},
		{"ingolang/frank", "0ab02fd8a1195d902d4e71df38123be0d3fa9ea45ebc6e1246d8e82179acb6dd", ""},
		{"ingolang/example.com.write-code.cert.pem", "4979dea7", ""},
		{"intoto-demo/bob.pub", "776a00e2", "210dcc50"},
		{"intoto-demo/carl.pub", "2f89b927", "be06db20"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, stdout, stderr := referee(t, "key", "id", "--format", "json", filepath.Join(td, tc.file))
			var got struct {
				Keys []struct {
					KeyID        string `json:"keyid"`
					CurrentKeyID string `json:"currentKeyid"`
				}
			}
			if err := json.Unmarshal([]byte(stdout), &got); code != cli.ExitOK || err != nil || len(got.Keys) != 1 {
				t.Fatalf("exit %d, %v, %q %q", code, err, stdout, stderr)
			}
			k := got.Keys[0]
			if !strings.HasPrefix(k.KeyID, tc.keyid) || !strings.HasPrefix(k.CurrentKeyID, tc.current) || k.CurrentKeyID == k.KeyID {
				t.Errorf("keyid %s (want %s…), current %s (want %s…)", k.KeyID, tc.keyid, k.CurrentKeyID, tc.current)
			}
		})
	}
}
