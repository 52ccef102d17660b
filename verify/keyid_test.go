package verify_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

const demoData = "../attest/testdata/intoto-demo"

// demoDir lays out a final_product directory of the in-toto/demo: the
// layout of generation layoutGen, each step's link from the generation
// linkGen names (v1.3, current or tampered), and the tarball of tarGen.
func demoDir(t *testing.T, layoutGen, tarGen string, linkGen map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	cp := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cp(filepath.Join(demoData, layoutGen, "root.layout"), "root.layout")
	cp(filepath.Join(demoData, "alice.pub"), "alice.pub")
	cp(filepath.Join(demoData, tarGen, "demo-project.tar.gz"), "demo-project.tar.gz")
	for step, gen := range linkGen {
		prefix := map[string]string{"v1.3": "776a00e2", "current": "210dcc50"}[gen]
		if step == "package" {
			prefix = map[string]string{"v1.3": "2f89b927", "current": "be06db20"}[strings.TrimPrefix(gen, "tampered-")]
			gen = strings.Split(gen, "-")[0]
		}
		name := step + "." + prefix + ".link"
		cp(filepath.Join(demoData, gen, name), name)
	}
	return dir
}

// verifyDemo verifies a demo final_product directory as the demo's client
// does (in-toto-verify --layout root.layout --verification-keys
// alice.pub), with the untar inspection run in the directory.
func verifyDemo(t *testing.T, dir string) (*verify.Report, error) {
	t.Helper()
	env, err := attest.ReadEnvelopeFile(filepath.Join(dir, "root.layout"), attest.DefaultMaxFileSize)
	if err != nil {
		t.Fatal(err)
	}
	layout, err := attest.ParseLayout(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	expires, err := layout.ExpiresAt()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "alice.pub"))
	if err != nil {
		t.Fatal(err)
	}
	alice, err := attest.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	links, err := verify.LoadLinkDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return verify.Verify(context.Background(), verify.Evidence{Source: "root.layout", Envelope: env}, links, verify.Options{
		LayoutKeys: []*attest.Key{alice},
		Now:        expires.Add(-time.Hour),
		Inspector:  &verify.CommandInspector{Dir: dir},
	})
}

// TestDemoBothGenerations runs the in-toto/demo end to end through the link
// directory loader: its layout and links as in-toto 1.3 made them
// (keyids 776a00e2, 2f89b927; layout key 556caebd) and as current in-toto
// makes them (210dcc50, be06db20; c8ef46bd), each layout with the links of
// either generation, mixed too. alice.pub is read as every PEM file is
// (keyid 556caebd), so the current layout's signature is matched by its
// other keyid. The demo's second act, foo.py tampered with after
// update-version, fails in every combination, as the demo expects.
func TestDemoBothGenerations(t *testing.T) {
	all := func(gen string) map[string]string {
		return map[string]string{"clone": gen, "update-version": gen, "package": gen}
	}
	for _, tc := range []struct {
		name, layout, tar string
		links             map[string]string
		fail              []string
	}{
		{name: "1.3 layout, 1.3 links", layout: "v1.3", tar: "v1.3", links: all("v1.3")},
		{name: "current layout, current links", layout: "current", tar: "current", links: all("current")},
		{name: "1.3 layout, current links", layout: "v1.3", tar: "current", links: all("current")},
		{name: "current layout, 1.3 links", layout: "current", tar: "v1.3", links: all("v1.3")},
		{name: "1.3 layout, mixed links", layout: "v1.3", tar: "v1.3", links: map[string]string{"clone": "current", "update-version": "v1.3", "package": "current"}},
		{name: "current layout, tampered 1.3 package", layout: "current", tar: "tampered", links: map[string]string{"clone": "current", "update-version": "current", "package": "tampered-v1.3"}, fail: []string{`step "package"`, `material "demo-project/foo.py" is disallowed`}},
		{name: "1.3 layout, tampered current package", layout: "v1.3", tar: "tampered", links: map[string]string{"clone": "v1.3", "update-version": "v1.3", "package": "tampered-current"}, fail: []string{`step "package"`, `material "demo-project/foo.py" is disallowed`}},
		{name: "current layout, tampered current package", layout: "current", tar: "tampered", links: map[string]string{"clone": "current", "update-version": "current", "package": "tampered-current"}, fail: []string{`step "package"`, `material "demo-project/foo.py" is disallowed`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verifyDemo(t, demoDir(t, tc.layout, tc.tar, tc.links))
			if tc.fail != nil {
				wantFail(t, r, err, tc.fail...)
				return
			}
			wantPass(t, r, err)
		})
	}
}

// twoIDs is one key listed in a layout under both generations' keyids.
func twoIDs(t *testing.T, s *attest.Signer) (old, current *attest.Key) {
	t.Helper()
	k := s.Key()
	public := k.KeyVal.Public
	if k.KeyType != attest.KeyTypeEd25519 {
		public += "\n" // current in-toto keeps the PEM's final newline
	}
	raw, err := json.Marshal(map[string]any{"keytype": k.KeyType, "scheme": k.Scheme, "keyval": map[string]string{"public": public}})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := attest.KeyFromLayout(k.CurrentID(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if cur.KeyID == k.KeyID {
		t.Fatal("one keyid for both generations")
	}
	return k, cur
}

// signedUnder signs a link of step by s, once under each keyid given.
func signedUnder(t *testing.T, step string, s *attest.Signer, ids ...string) verify.Evidence {
	t.Helper()
	l := &attest.Link{Name: step, Materials: hashes(arts{}), Products: hashes(arts{"out": "x"}), Command: []string{"true"}}
	payload, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	env := attest.NewEnvelope(attest.FormMetablock, payload)
	msg, err := env.SignedBytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		env.Signatures = append(env.Signatures, attest.Signature{KeyID: id, Sig: sig})
	}
	return verify.Evidence{Source: attest.LinkFileName(step, ids[0]), Envelope: env}
}

// TestKeyIDGenerationsThreshold: a link signed under either generation's
// keyid counts for a key listed under the other's, and distinct keys are
// counted by their material: one key listed under its two keyids, signing
// under both, is one functionary, never two.
func TestKeyIDGenerationsThreshold(t *testing.T) {
	for _, keyType := range []string{attest.KeyTypeEd25519, attest.KeyTypeECDSA, attest.KeyTypeRSA} {
		s, err := attest.GenerateKey(keyType)
		if err != nil {
			t.Fatal(err)
		}
		old, cur := twoIDs(t, s)
		for _, tc := range []struct {
			name      string
			listed    []*attest.Key
			threshold int
			links     []verify.Evidence
			pass      bool
		}{
			{"1.3 layout, current signature", []*attest.Key{old}, 1, []verify.Evidence{signedUnder(t, "build", s, cur.KeyID)}, true},
			{"current layout, 1.3 signature", []*attest.Key{cur}, 1, []verify.Evidence{signedUnder(t, "build", s, old.KeyID)}, true},
			{"listed twice, one link signed under both ids", []*attest.Key{old, cur}, 2, []verify.Evidence{signedUnder(t, "build", s, old.KeyID, cur.KeyID)}, false},
			{"listed twice, a link under each id", []*attest.Key{old, cur}, 2, []verify.Evidence{signedUnder(t, "build", s, old.KeyID), signedUnder(t, "build", s, cur.KeyID)}, false},
			{"listed twice, threshold 1", []*attest.Key{old, cur}, 1, []verify.Evidence{signedUnder(t, "build", s, cur.KeyID)}, true},
		} {
			t.Run(keyType+"/"+tc.name, func(t *testing.T) {
				c := newChain(t)
				st := attest.Step{Name: "build", Threshold: tc.threshold, ExpectedProducts: rules(t, "ALLOW out")}
				for _, k := range tc.listed {
					c.layout.Keys[k.KeyID] = k
					st.PubKeys = append(st.PubKeys, k.KeyID)
				}
				c.layout.Steps = append(c.layout.Steps, st)
				r, err := c.verify(tc.links...)
				if tc.pass {
					wantPass(t, r, err)
					return
				}
				wantFail(t, r, err, "needs links signed by 2 distinct authorised functionaries", "found 1")
			})
		}
	}
}

// TestInTotoGolangKeysLayout: a layout made by in-toto-golang whose
// functionaries are a P-384 key, an X.509 certificate and a P-521 key, with
// the links in-toto-golang's `in-toto run` made (see the README beside
// them), verifies; a link of the certificate's step signed by another key
// does not count.
func TestInTotoGolangKeysLayout(t *testing.T) {
	const dir = "../attest/testdata/ingolang-layout"
	pub, err := os.ReadFile("../attest/testdata/ingolang/dan.pub")
	if err != nil {
		t.Fatal(err)
	}
	dan, err := attest.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.ReadEnvelopeFile(filepath.Join(dir, "root.layout"), attest.DefaultMaxFileSize)
	if err != nil {
		t.Fatal(err)
	}
	layout, err := attest.ParseLayout(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	cert := layout.Keys["4979dea7a8467cbe0299693703b81d490854143b859a469ec0f6349e7bdf582a"]
	if cert == nil || cert.Certificate() == nil || cert.Certificate().Subject.CommonName != "write-code.example.com" {
		t.Fatalf("the certificate key: %+v", cert)
	}
	links, err := verify.LoadLinkDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 3 {
		t.Fatalf("%d links", len(links))
	}
	layoutEv := verify.Evidence{Source: "root.layout", Envelope: env}
	o := verify.Options{LayoutKeys: []*attest.Key{dan}, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	r, err := verify.Verify(context.Background(), layoutEv, links, o)
	wantPass(t, r, err)

	// The write-code link re-signed by grace (P-384, build's functionary).
	grace, err := attest.ParsePrivateKey(mustRead(t, "../attest/testdata/ingolang/grace"))
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range links {
		if strings.HasPrefix(filepath.Base(ev.Source), "write-code.") {
			forged, err := attest.SignPayload(attest.FormDSSE, ev.Envelope.Payload, grace)
			if err != nil {
				t.Fatal(err)
			}
			links[i].Envelope = forged
		}
	}
	r, err = verify.Verify(context.Background(), layoutEv, links, o)
	wantFail(t, r, err, "write-code")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
