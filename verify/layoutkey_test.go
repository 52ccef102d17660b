package verify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
	"github.com/referee-dev/referee/oci"
	"github.com/referee-dev/referee/verify"
)

// TestWrongLayoutKeySaysWhoSigned: given a --layout-key that did not sign
// the layout, the report names the keys that the layout's signatures claim
// and the expiry it claims, both marked unverified, in text and in JSON,
// instead of "signed by (nobody), expires ".
func TestWrongLayoutKeySaysWhoSigned(t *testing.T) {
	c := twoSteps(t)
	other, third := mustKey(t), mustKey(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		signers    []*attest.Signer
		keys       []*attest.Key
		signedBy   []string // verified
		claimed    []string // unverified
		wantInText string
	}{
		{"signed by another key", []*attest.Signer{other}, []*attest.Key{c.owner.Key()}, nil, []string{other.Key().KeyID}, "NOT signed by the layout key; its signatures claim keys " + other.Key().KeyID[:8]},
		{"signed by two other keys", []*attest.Signer{other, third}, []*attest.Key{c.owner.Key()}, nil, []string{other.Key().KeyID, third.Key().KeyID}, "NOT signed by the layout key; its signatures claim keys " + other.Key().KeyID[:8] + ", " + third.Key().KeyID[:8]},
		{"one of two layout keys signed", []*attest.Signer{c.owner, other}, []*attest.Key{c.owner.Key(), third.Key()}, []string{c.owner.Key().KeyID}, []string{other.Key().KeyID}, "signed by " + c.owner.Key().KeyID[:8] + " but not by every layout key; its signatures claim keys " + other.Key().KeyID[:8]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := verify.Verify(ctx, c.layoutEvidence(tc.signers...), nil, verify.Options{LayoutKeys: tc.keys})
			if !verify.IsNotVerified(err) {
				t.Fatalf("want not verified, got %v", err)
			}
			text := reportText(r)
			line := strings.SplitN(text, "\n", 2)[0]
			wantLine := "layout root.layout: " + tc.wantInText
			if !strings.HasPrefix(line, wantLine) || !strings.HasSuffix(line, ", expires "+c.layout.Expires+" (unverified)") {
				t.Errorf("layout line\n%s\nwant it to start with %q and end with the claimed expiry", line, wantLine)
			}
			if strings.Contains(text, "(nobody)") || strings.Contains(text, "expires \n") || strings.Contains(text, "expires ,") {
				t.Errorf("report still says nobody signed or leaves the expiry blank:\n%s", text)
			}
			// The failure itself says it too, on one line.
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, tc.claimed[0][:8]) || !strings.Contains(msg, "(unverified)") {
				t.Errorf("failure %q does not say who signed the layout", msg)
			}

			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back struct {
				Layout struct {
					Expires    string   `json:"expires"`
					Signers    []string `json:"signers"`
					Unverified *struct {
						KeyIDs  []string `json:"keyids"`
						Expires string   `json:"expires"`
					} `json:"unverified"`
				} `json:"layout"`
			}
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			l := back.Layout
			if l.Unverified == nil || strings.Join(l.Unverified.KeyIDs, ",") != strings.Join(tc.claimed, ",") || l.Unverified.Expires != c.layout.Expires {
				t.Errorf("JSON layout %s: want unverified keyids %v and expiry %s", data, tc.claimed, c.layout.Expires)
			}
			if strings.Join(l.Signers, ",") != strings.Join(tc.signedBy, ",") || l.Expires != "" {
				t.Errorf("JSON layout %s: verified signers %v, and no verified expiry", data, tc.signedBy)
			}
		})
	}
}

// TestRightLayoutKeyReportUnchanged: with the right key, nothing is marked
// unverified.
func TestRightLayoutKeyReportUnchanged(t *testing.T) {
	c := twoSteps(t)
	r, _ := verify.Verify(context.Background(), c.layoutEvidence(), nil, verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}})
	if r.Layout.Unverified != nil || r.Layout.Expires != c.layout.Expires {
		t.Errorf("layout %+v", r.Layout)
	}
	want := "layout root.layout: signed by " + c.owner.Key().KeyID[:8] + ", expires " + c.layout.Expires + "\n"
	if text := reportText(r); !strings.HasPrefix(text, want) {
		t.Errorf("report\n%s\nwant it to start with %q", text, want)
	}
}

// TestAttachedLayoutOfAnotherKeySaysWhoSigned: verifying from a registry
// with the wrong key, the attached layout that was not used says who
// claims to have signed it, in text and JSON.
func TestAttachedLayoutOfAnotherKeySaysWhoSigned(t *testing.T) {
	c := newTMChain(t)
	s := tmOpen(t, tmRegistry(t, true)+"/app")
	image := tmPushImage(t, s, "app.tar contents")
	l := c.layout()
	layout := tmAttach(t, s, image, c.signLayout(l, 3, c.keys["mallory"]), oci.AttachOptions{})
	r, err := c.verify(s, image, verify.ImageOptions{})
	wantImageFail(t, r, err, "no acceptable layout")
	if len(r.Layout.NotUsed) != 1 {
		t.Fatalf("layouts not used: %+v", r.Layout.NotUsed)
	}
	want := layoutref.Claims{KeyIDs: []string{c.keyID("mallory")}, Expires: l.Expires, Version: 3}
	if got := r.Layout.NotUsed[0].Unverified; got == nil || strings.Join(got.KeyIDs, ",") != strings.Join(want.KeyIDs, ",") || got.Expires != want.Expires || got.Version != 3 {
		t.Errorf("unverified claims %+v, want %+v", got, want)
	}
	wantLine := "layout referrer " + layout.Digest.String() + " not used: no signature by key " + c.owner.Key().KeyID + "; " + want.String()
	if text := reportText(r); !strings.Contains(text, wantLine+"\n") {
		t.Errorf("report\n%s\ndoes not say %q", text, wantLine)
	}
	if s := want.String(); s != "its signatures claim keys "+short8(c.keyID("mallory"))+", expires "+l.Expires+", version 3 (unverified)" {
		t.Errorf("claims read %q", s)
	}
}
