package layoutref

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/termsafe"
)

// Claims is what a layout says of itself when its signatures do not verify
// with the layout keys: the keyids its signatures name, and its expiry and
// version, read from content that no layout key vouches for. Reports show
// them, marked unverified, so that a person given the wrong --layout-key
// can tell which key did sign the layout and whether it is the one meant.
type Claims struct {
	// KeyIDs are the keyids the signatures name ("" for a DSSE signature
	// without one), apart from those verified with a layout key.
	KeyIDs  []string `json:"keyids"`
	Expires string   `json:"expires,omitempty"`
	Version int      `json:"version,omitempty"`
}

// maxClaimLen bounds a claimed string shown to a person: it is unverified
// content.
const maxClaimLen = 64

// ReadClaims reads a layout's claims from env, verifying nothing. Keyids in
// verified (the layout keys whose signatures did verify) are left out. It
// reads only the keyids, "expires" and the version line of "readme", never
// the whole layout, and bounds their length. They may hold anything:
// print them with String, which quotes them.
func ReadClaims(env *attest.Envelope, verified []string) *Claims {
	c := &Claims{KeyIDs: []string{}}
	seen := map[string]bool{}
	for _, id := range verified {
		seen[id] = true
	}
	for _, id := range env.SignerKeyIDs() {
		if !seen[id] {
			seen[id] = true
			c.KeyIDs = append(c.KeyIDs, bound(id))
		}
	}
	// The fields by their exact names (a map, not struct decoding, which
	// would also take "EXPIRES"), as the references read them; the layout
	// may be invalid otherwise: these are claims, shown quoted.
	var head map[string]json.RawMessage
	if kind, err := env.PayloadKind(); err == nil && kind == "layout" && json.Unmarshal(env.Payload, &head) == nil {
		var expires, readme string
		_ = json.Unmarshal(head["expires"], &expires)
		_ = json.Unmarshal(head["readme"], &readme)
		c.Expires = bound(expires)
		c.Version, _ = (&attest.Layout{Readme: readme}).Version()
	}
	return c
}

// String renders the claims for a person, safe to print
// (termsafe.Quote), as one clause: "its signatures
// claim keys 1234abcd, expires 2030-01-01T00:00:00Z, version 2
// (unverified)".
func (c *Claims) String() string {
	var parts []string
	switch len(c.KeyIDs) {
	case 0:
		parts = append(parts, "no other signatures")
	default:
		ids := make([]string, len(c.KeyIDs))
		for i, id := range c.KeyIDs {
			ids[i] = termsafe.Quote(shortKeyID(id))
		}
		parts = append(parts, "its signatures claim keys "+strings.Join(ids, ", "))
	}
	if c.Expires != "" {
		parts = append(parts, "expires "+termsafe.Quote(c.Expires))
	}
	if c.Version > 0 {
		parts = append(parts, fmt.Sprintf("version %d", c.Version))
	}
	return strings.Join(parts, ", ") + " (unverified)"
}

func shortKeyID(id string) string {
	if id == "" {
		return "(no keyid)"
	}
	return attest.ShortKeyID(id)
}

// bound cuts s to maxClaimLen bytes: it is unverified content.
func bound(s string) string {
	if len(s) > maxClaimLen {
		s = strings.ToValidUTF8(s[:maxClaimLen], "") + "…"
	}
	return s
}
