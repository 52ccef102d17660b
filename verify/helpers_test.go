package verify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// chain builds layouts and links in memory with real keys and signatures.
type chain struct {
	t      testing.TB
	owner  *attest.Signer
	keys   map[string]*attest.Signer
	layout attest.Layout
}

func newChain(t testing.TB, functionaries ...string) *chain {
	t.Helper()
	c := &chain{t: t, owner: mustKey(t), keys: map[string]*attest.Signer{}}
	c.layout = attest.Layout{Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Keys: map[string]*attest.Key{}}
	for _, f := range functionaries {
		s := mustKey(t)
		c.keys[f] = s
		c.layout.Keys[s.Key().KeyID] = s.Key()
	}
	return c
}

func mustKey(t testing.TB) *attest.Signer {
	t.Helper()
	s, err := attest.GenerateKey(attest.KeyTypeEd25519)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rules turns one-line rules into the layout's token lists.
func rules(t testing.TB, lines ...string) [][]string {
	t.Helper()
	out := [][]string{}
	for _, l := range lines {
		r, err := attest.ParseRuleString(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Tokens())
	}
	return out
}

func (c *chain) step(name string, threshold int, who []string, materials, products [][]string) {
	s := attest.Step{Name: name, Threshold: threshold, ExpectedMaterials: materials, ExpectedProducts: products}
	for _, w := range who {
		s.PubKeys = append(s.PubKeys, c.keys[w].Key().KeyID)
	}
	c.layout.Steps = append(c.layout.Steps, s)
}

func (c *chain) layoutEvidence(signers ...*attest.Signer) verify.Evidence {
	c.t.Helper()
	payload, err := c.layout.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	if len(signers) == 0 {
		signers = []*attest.Signer{c.owner}
	}
	env, err := attest.SignPayload(attest.FormDSSE, payload, signers...)
	if err != nil {
		c.t.Fatal(err)
	}
	return verify.Evidence{Source: "root.layout", Envelope: env}
}

type arts map[string]string

func hashes(a arts) map[string]attest.HashObj {
	out := map[string]attest.HashObj{}
	for p, content := range a {
		out[p] = attest.HashObj{"sha256": fmt.Sprintf("%064x", len(content)*7919+int(content[0]))}
	}
	return out
}

// link signs a link of step by functionary who; form alternates are tested
// elsewhere, DSSE here.
func (c *chain) link(step, who string, materials, products arts) verify.Evidence {
	c.t.Helper()
	l := &attest.Link{Name: step, Materials: hashes(materials), Products: hashes(products), Command: []string{"true"}}
	payload, err := l.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	s := c.keys[who]
	env, err := attest.SignPayload(attest.FormMetablock, payload, s)
	if err != nil {
		c.t.Fatal(err)
	}
	return verify.Evidence{Source: attest.LinkFileName(step, s.Key().KeyID) + "@" + who, Envelope: env}
}

func (c *chain) verify(links ...verify.Evidence) (*verify.Report, error) {
	c.t.Helper()
	return verify.Verify(context.Background(), c.layoutEvidence(), links, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}})
}

func wantPass(t *testing.T, r *verify.Report, err error) {
	t.Helper()
	if err != nil || r == nil || !r.Verified {
		t.Fatalf("want verified, got %v\n%s", err, reportText(r))
	}
}

// wantFail checks that verification failed and that the first failure
// mentions every fragment.
func wantFail(t *testing.T, r *verify.Report, err error, fragments ...string) {
	t.Helper()
	if !verify.IsNotVerified(err) {
		t.Fatalf("want a verification failure, got %v\n%s", err, reportText(r))
	}
	msg := err.Error()
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("failure %q does not mention %q", msg, f)
		}
	}
	if r.Verified {
		t.Error("report says verified")
	}
}

func reportText(r *verify.Report) string {
	if r == nil {
		return "(no report)"
	}
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}
