package verify_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// Verify checks a signed layout against signed links held in memory; the
// report says, step by step, what was used and why verification failed.
func ExampleVerify() {
	owner, _ := attest.GenerateKey("ed25519")
	builder, _ := attest.GenerateKey("ed25519")
	create, _ := attest.ParseRuleString("CREATE app")
	closed, _ := attest.ParseRuleString("DISALLOW *")
	layout := attest.Layout{
		Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat),
		Keys:    map[string]*attest.Key{builder.Key().KeyID: builder.Key()},
		Steps: []attest.Step{{Name: "build", Threshold: 1, PubKeys: []string{builder.Key().KeyID},
			ExpectedProducts: [][]string{create.Tokens(), closed.Tokens()}}},
	}
	payload, _ := layout.Marshal()
	layoutEnv, _ := attest.SignPayload(attest.FormDSSE, payload, owner)

	hash := attest.HashObj{"sha256": strings.Repeat("ab", 32)}
	for _, products := range []map[string]attest.HashObj{
		{"app": hash},
		{"app": hash, "backdoor": hash},
	} {
		link := &attest.Link{Name: "build", Products: products}
		lp, _ := link.Marshal()
		linkEnv, _ := attest.SignPayload(attest.FormDSSE, lp, builder)
		_, err := verify.Verify(context.Background(),
			verify.Evidence{Source: "root.layout", Envelope: layoutEnv},
			[]verify.Evidence{{Source: "build.link", Envelope: linkEnv}},
			verify.Options{LayoutKeys: []*attest.Key{owner.Key()}})
		fmt.Println(err)
	}
	// Output:
	// <nil>
	// not verified: step "build", rule "DISALLOW *": product "backdoor" is disallowed (no earlier rule accounts for it)
}
