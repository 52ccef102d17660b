package attest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
)

func readTestdata(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInTotoGolangKeyIDs: the keyids and schemes in-toto-golang's
// TestLoadKeyDefaults (in_toto/keylib_test.go) expects of its own test
// data, read without a scheme as referee reads every PEM file: public and
// private keys, and the X.509 certificate.
func TestInTotoGolangKeyIDs(t *testing.T) {
	for _, tc := range []struct {
		file, keyid, scheme string
	}{
		{"alice.pub", "70ca5750c2eda80b18f41f4ec5f92146789b5d68dd09577be422a0159bd13680", "rsassa-pss-sha256"},
		{"dan", "b7d643dec0a051096ee5d87221b5d91a33daa658699d30903e1cefb90c418401", "rsassa-pss-sha256"},
		{"dan.pub", "b7d643dec0a051096ee5d87221b5d91a33daa658699d30903e1cefb90c418401", "rsassa-pss-sha256"},
		{"carol", "be6371bc627318218191ce0780fd3183cce6c36da02938a477d2e4dfae1804a6", "ed25519"},
		{"carol.pub", "be6371bc627318218191ce0780fd3183cce6c36da02938a477d2e4dfae1804a6", "ed25519"},
		{"frank", "0ab02fd8a1195d902d4e71df38123be0d3fa9ea45ebc6e1246d8e82179acb6dd", "ecdsa-sha2-nistp256"},
		{"frank.pub", "0ab02fd8a1195d902d4e71df38123be0d3fa9ea45ebc6e1246d8e82179acb6dd", "ecdsa-sha2-nistp256"},
		{"grace", "a5fe82bffd11c43cd25b41b427496dea8eb61505bfa11907a6a565ebb00fa323", "ecdsa-sha2-nistp256"},
		{"grace.pub", "a5fe82bffd11c43cd25b41b427496dea8eb61505bfa11907a6a565ebb00fa323", "ecdsa-sha2-nistp256"},
		{"heidi", "337f2a2bed46e863a68f17ae0e3e96756eca87c38080d872c5824493cec1ce1a", "ecdsa-sha2-nistp256"},
		{"heidi.pub", "337f2a2bed46e863a68f17ae0e3e96756eca87c38080d872c5824493cec1ce1a", "ecdsa-sha2-nistp256"},
		{"example.com.write-code.cert.pem", "4979dea7a8467cbe0299693703b81d490854143b859a469ec0f6349e7bdf582a", "rsassa-pss-sha256"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			k, err := attest.ParseAnyKey(readTestdata(t, "ingolang", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if k.KeyID != tc.keyid || k.Scheme != tc.scheme {
				t.Errorf("keyid %s scheme %s, want %s %s", k.KeyID, k.Scheme, tc.keyid, tc.scheme)
			}
			if !strings.HasSuffix(tc.file, "pub") && !strings.HasSuffix(tc.file, ".pem") {
				if _, err := attest.ParsePublicKey(readTestdata(t, "ingolang", tc.file)); err == nil {
					t.Error("ParsePublicKey took a private key")
				}
				return
			}
			if k2, err := attest.ParsePublicKey(readTestdata(t, "ingolang", tc.file)); err != nil || k2.KeyID != tc.keyid {
				t.Errorf("ParsePublicKey: %v, %v", k2, err)
			}
		})
	}
}

// TestInTotoGolangSchemeKeyIDs: in-toto-golang's TestLoadKey gives ECDSA
// keys loaded with the curve's own scheme other keyids; a layout listing
// them so is read, and the key read without a scheme answers to them.
func TestInTotoGolangSchemeKeyIDs(t *testing.T) {
	for _, tc := range []struct {
		file, scheme, keyid string
	}{
		{"frank.pub", "ecdsa-sha2-nistp521", "434cf7c5b168f6ea4c7e6e67afa74a02625310530f1664f761637bdc7ad8f8df"},
		{"grace.pub", "ecdsa-sha2-nistp384", "a5522ebccd492f64e6ec0bbcb5eb782708f6e26709a3712e64fff108b98e5142"},
		{"heidi.pub", "ecdsa-sha2-nistp224", "fae849ef9247cc7d19ebd33ab63b5d18a31357508fd82d8ad2aad6fdcc584bd7"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			k, err := attest.ParsePublicKey(readTestdata(t, "ingolang", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(map[string]any{
				"keyid": tc.keyid, "keytype": "ecdsa", "scheme": tc.scheme,
				"keyid_hash_algorithms": []string{"sha256", "sha512"},
				"keyval":                map[string]string{"public": k.KeyVal.Public},
			})
			listed, err := attest.KeyFromLayout(tc.keyid, raw)
			if err != nil {
				t.Fatal(err)
			}
			if listed.KeyID != tc.keyid || !k.HasID(tc.keyid) || !listed.HasID(k.KeyID) {
				t.Errorf("listed %s; %s answers to it: %v", listed.KeyID, k.ShortID(), k.HasID(tc.keyid))
			}
		})
	}
}

// TestCurrentKeyIDs: the in-toto/demo repository's keys have the keyids
// in-toto 1.3 and in-toto-golang give them (776a00e2, 2f89b927) and, as
// CurrentID, the ones its links are named by under in-toto 3.0
// (clone.210dcc50.link, package.be06db20.link).
func TestCurrentKeyIDs(t *testing.T) {
	for _, tc := range []struct{ file, old, current string }{
		{"alice.pub", "556caebd", "c8ef46bd"},
		{"bob.pub", "776a00e2", "210dcc50"},
		{"carl.pub", "2f89b927", "be06db20"},
	} {
		k, err := attest.ParsePublicKey(readTestdata(t, "intoto-demo", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if k.ShortID() != tc.old || !strings.HasPrefix(k.CurrentID(), tc.current) {
			t.Errorf("%s: keyid %s, current %s; want %s, %s", tc.file, k.ShortID(), k.CurrentID(), tc.old, tc.current)
		}
		if !k.HasID(k.CurrentID()) || k.IDs()[0] != k.KeyID {
			t.Errorf("%s: IDs %v", tc.file, k.IDs())
		}
	}
}

// TestKeyFromLayoutGenerations: a key listed as current in-toto lists it
// (no keyid_hash_algorithms, PEM with its final newline, its own keyid
// rule) is read, as is one listed by in-toto 1.3; a keyid that matches
// neither rule is refused.
func TestKeyFromLayoutGenerations(t *testing.T) {
	keys := layoutKeys(t, readTestdata(t, "intoto-demo", "current", "root.layout"))
	old := layoutKeys(t, readTestdata(t, "intoto-demo", "v1.3", "root.layout"))
	for id, raw := range keys {
		if strings.Contains(string(raw), "keyid_hash_algorithms") {
			t.Fatalf("current in-toto's key %s has keyid_hash_algorithms", id[:8])
		}
	}
	for _, tc := range []struct {
		name, id string
		raw      json.RawMessage
		want     string
	}{
		{name: "current", id: findID(keys, "210dcc50"), raw: keys[findID(keys, "210dcc50")]},
		{name: "1.3", id: findID(old, "776a00e2"), raw: old[findID(old, "776a00e2")]},
		{name: "neither", id: strings.Repeat("ab", 32), raw: keys[findID(keys, "210dcc50")], want: "key listed as abababab has keyid f386693b"},
		{name: "neither names current's", id: strings.Repeat("ab", 32), raw: keys[findID(keys, "210dcc50")], want: "or 210dcc50ed4dd534"},
		// Each rule hashes the public value as listed: 1.3's trimmed PEM
		// with keyid_hash_algorithms has no current keyid 210dcc50.
		{name: "1.3 entry under current's keyid", id: findID(keys, "210dcc50"), raw: old[findID(old, "776a00e2")], want: "key listed as 210dcc50 has keyid 776a00e2"},
		{name: "entry saying another keyid", id: findID(keys, "210dcc50"), raw: json.RawMessage(strings.Replace(string(keys[findID(keys, "210dcc50")]), `"keyid": "210dcc50`, `"keyid": "310dcc50`, 1)), want: "says its keyid is 310dcc50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := attest.KeyFromLayout(tc.id, tc.raw)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.KeyID != tc.id || !strings.HasPrefix(k.CurrentID(), "210dcc50") || k.IDs()[0] != tc.id {
				t.Errorf("keyid %s, current %s", k.KeyID, k.CurrentID())
			}
			if !k.HasID(findID(old, "776a00e2")) || !k.HasID(findID(keys, "210dcc50")) {
				t.Error("does not answer to both generations' keyids")
			}
		})
	}
}

func layoutKeys(t *testing.T, file []byte) map[string]json.RawMessage {
	t.Helper()
	env, err := attest.ParseEnvelope(file)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Keys map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(env.Payload, &l); err != nil {
		t.Fatal(err)
	}
	return l.Keys
}

func findID(keys map[string]json.RawMessage, prefix string) string {
	for id := range keys {
		if strings.HasPrefix(id, prefix) {
			return id
		}
	}
	return prefix
}

// TestECDSACurvesInterop: P-256, P-384 and P-521 signatures (and P-224,
// which in-toto-golang reads) are made and checked with the curve's hash
// exactly as go-securesystemslib, in-toto-golang's signer, makes and checks
// them, whichever scheme name the key carries.
func TestECDSACurvesInterop(t *testing.T) {
	p256, err := attest.GenerateKey(attest.KeyTypeECDSA)
	if err != nil {
		t.Fatal(err)
	}
	p256PEM, err := p256.MarshalPrivatePEM()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		priv []byte
	}{
		{"P-256", p256PEM},
		{"P-224 heidi", readTestdata(t, "ingolang", "heidi")},
		{"P-384 grace", readTestdata(t, "ingolang", "grace")},
		{"P-521 frank", readTestdata(t, "ingolang", "frank")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := attest.ParsePrivateKey(tc.priv)
			if err != nil {
				t.Fatal(err)
			}
			sslib, err := signerverifier.LoadKey(tc.priv)
			if err != nil {
				t.Fatal(err)
			}
			sv, err := signerverifier.NewECDSASignerVerifierFromSSLibKey(sslib)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("in-toto")
			ours, err := s.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sv.Verify(ctx, msg, ours); err != nil {
				t.Errorf("go-securesystemslib refuses referee's signature: %v", err)
			}
			theirs, err := sv.Sign(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Key().Verify(msg, theirs); err != nil {
				t.Errorf("referee refuses go-securesystemslib's signature: %v", err)
			}
			if err := s.Key().Verify([]byte("in-toto!"), theirs); err == nil {
				t.Error("a signature over other bytes verifies")
			}
			// The same key listed under the curve's own scheme checks the
			// same signature.
			own := map[string]string{"P-256": "ecdsa-sha2-nistp256", "P-224 heidi": "ecdsa-sha2-nistp224", "P-384 grace": "ecdsa-sha2-nistp384", "P-521 frank": "ecdsa-sha2-nistp521"}[tc.name]
			k := listAs(t, s.Key(), own)
			if err := k.Verify(msg, theirs); err != nil {
				t.Errorf("under scheme %s: %v", own, err)
			}
		})
	}
}

// listAs reads key back from a layout entry under another scheme name.
func listAs(t *testing.T, key *attest.Key, scheme string) *attest.Key {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{
		"keytype": key.KeyType, "scheme": scheme,
		"keyval": map[string]string{"public": key.KeyVal.Public},
	})
	probe, err := attest.KeyFromLayout("00", raw)
	if err == nil {
		return probe
	}
	// The error names the keyid of the current generation last.
	msg := err.Error()
	id := msg[strings.LastIndex(msg, ") or ")+5:]
	id = id[:64]
	k, err := attest.KeyFromLayout(id, raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestECDSASchemeMismatch: a scheme or legacy keytype naming another
// curve than the key's is refused (the references would hash it
// differently), in words.
func TestECDSASchemeMismatch(t *testing.T) {
	grace, err := attest.ParsePublicKey(readTestdata(t, "ingolang", "grace.pub"))
	if err != nil {
		t.Fatal(err)
	}
	p256, err := attest.GenerateKey(attest.KeyTypeECDSA)
	if err != nil {
		t.Fatal(err)
	}
	erin := readTestdata(t, "ingolang", "erin.pub")
	for _, tc := range []struct {
		name, keytype, scheme, public, want string
	}{
		{"P-256 as nistp384", "ecdsa", "ecdsa-sha2-nistp384", p256.Key().KeyVal.Public, "scheme ecdsa-sha2-nistp384 but the key is on curve P-256"},
		{"P-384 as nistp521", "ecdsa", "ecdsa-sha2-nistp521", grace.KeyVal.Public, "scheme ecdsa-sha2-nistp521 but the key is on curve P-384"},
		{"legacy keytype of another curve", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", grace.KeyVal.Public, "keytype ecdsa-sha2-nistp256 but the key is on curve P-384"},
		{"RSA scheme", "ecdsa", "rsassa-pss-sha256", grace.KeyVal.Public, `keytype "ecdsa" with scheme "rsassa-pss-sha256"`},
		{"rsa keytype", "rsa", "rsassa-pss-sha256", grace.KeyVal.Public, "keytype rsa but the PEM holds an ECDSA key on curve P-384"},
		{"secp256k1", "ecdsa", "ecdsa-sha2-nistp256", string(erin), "unsupported elliptic curve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]any{"keytype": tc.keytype, "scheme": tc.scheme, "keyval": map[string]string{"public": tc.public}})
			_, err := attest.KeyFromLayout("00", raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "*") || strings.Contains(err.Error(), "x509") {
				t.Errorf("message names a Go type: %v", err)
			}
		})
	}
	for _, tc := range []struct{ file, want string }{
		{"erin.pub", "reading the PEM public key: unsupported elliptic curve (ECDSA keys must be on P-256, P-384 or P-521)"},
		{"erin", "reading the private key: unknown elliptic curve (ECDSA keys must be on P-256, P-384 or P-521)"},
	} {
		_, err := attest.ParseAnyKey(readTestdata(t, "ingolang", tc.file))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s (secp256k1): error %v, want %q", tc.file, err, tc.want)
		}
	}
}
