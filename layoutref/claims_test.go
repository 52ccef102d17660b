package layoutref_test

import (
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/layoutref"
)

// TestReadClaims: what an unverified layout says of itself is read from
// its signatures and payload alone, and made safe to print.
func TestReadClaims(t *testing.T) {
	owner, _ := attest.GenerateKey("")
	other, _ := attest.GenerateKey("")
	sign := func(payload string, signers ...*attest.Signer) *attest.Envelope {
		env, err := attest.SignPayload(attest.FormDSSE, []byte(payload), signers...)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	for _, tc := range []struct {
		name     string
		env      *attest.Envelope
		verified []string
		want     string
	}{
		{"another key", sign(`{"_type":"layout","expires":"2030-01-01T00:00:00Z"}`, other), nil,
			"its signatures claim keys " + other.Key().KeyID[:8] + ", expires 2030-01-01T00:00:00Z (unverified)"},
		{"verified keys are left out", sign(`{"_type":"layout","expires":"2030-01-01T00:00:00Z","readme":"referee-layout-version: 4"}`, owner, other), []string{owner.Key().KeyID},
			"its signatures claim keys " + other.Key().KeyID[:8] + ", expires 2030-01-01T00:00:00Z, version 4 (unverified)"},
		{"no signatures", sign(`{"_type":"layout","expires":"2030-01-01T00:00:00Z"}`), nil,
			"no other signatures, expires 2030-01-01T00:00:00Z (unverified)"},
		{"a terminal escape in the expiry is quoted", sign(`{"_type":"layout","expires":"2030\u001b[2J\nPASS"}`, other), nil,
			"its signatures claim keys " + other.Key().KeyID[:8] + `, expires "2030\x1b[2J\nPASS" (unverified)`},
		{"a long expiry is cut", sign(`{"_type":"layout","expires":"`+strings.Repeat("9", 500)+`"}`, other), nil,
			"its signatures claim keys " + other.Key().KeyID[:8] + ", expires " + strings.Repeat("9", 64) + "… (unverified)"},
		{"not a layout: keys only", sign(`{"_type":"link","expires":"2030-01-01T00:00:00Z"}`, other), nil,
			"its signatures claim keys " + other.Key().KeyID[:8] + " (unverified)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := layoutref.ReadClaims(tc.env, tc.verified).String(); got != tc.want {
				t.Errorf("claims\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
