package verify_test

import (
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// underCurrentIDs rewrites the keyids of a signed file's signatures to
// current in-toto's (2.x and later) for the same keys; the signatures
// stay valid, as neither envelope form signs the keyid.
func underCurrentIDs(t *testing.T, file []byte, signers ...*attest.Signer) []byte {
	t.Helper()
	env, err := attest.ParseEnvelope(file)
	if err != nil {
		t.Fatal(err)
	}
	for i := range env.Signatures {
		for _, s := range signers {
			if env.Signatures[i].KeyID == s.Key().KeyID {
				env.Signatures[i].KeyID = s.Key().CurrentID()
			}
		}
	}
	out, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImageKeyIDGenerations: from a registry, on both referrer paths, a
// layout listing its functionaries under in-toto 1.3's keyids verifies
// links signed under current in-toto's keyids of the same keys, and the
// layout itself verifies when its owner's signature names the owner's
// current keyid; a link under a current keyid of a key the layout does
// not list still fails.
func TestImageKeyIDGenerations(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag schema"}[api], func(t *testing.T) {
			c := newTMChain(t)
			s := tmOpen(t, tmRegistry(t, api)+"/app")
			image := tmPushImage(t, s, "app.tar contents")
			tmAttach(t, s, image, underCurrentIDs(t, c.signLayout(c.layout(), 1), c.owner), oci.AttachOptions{})
			tmAttach(t, s, image, underCurrentIDs(t, c.buildLink("bob", "app.tar contents"), c.keys["bob"]), oci.AttachOptions{})
			tmAttach(t, s, image, underCurrentIDs(t, c.pushLink("alice", "app.tar contents", image), c.keys["alice"]), oci.AttachOptions{})
			r, err := c.verify(s, image, verify.ImageOptions{})
			wantImagePass(t, r, err, image)

			other := tmPushImage(t, s, "other contents")
			tmAttach(t, s, other, c.signLayout(c.layout(), 1), oci.AttachOptions{})
			tmAttach(t, s, other, underCurrentIDs(t, c.buildLink("mallory", "other contents"), c.keys["mallory"]), oci.AttachOptions{})
			tmAttach(t, s, other, c.pushLink("alice", "other contents", other), oci.AttachOptions{})
			r, err = c.verify(s, other, verify.ImageOptions{})
			wantImageFail(t, r, err, `"build"`)
		})
	}
}
