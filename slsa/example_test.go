package slsa_test

import (
	"context"
	"fmt"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/slsa"
	"github.com/referee-dev/referee/verify"
)

// Level reads the owner's declaration from the signed layout: here the
// build step is signed by ci, declared hosted but not hardened, so the
// verified evidence supports SLSA Build L2.
func ExampleLevel() {
	owner, _ := attest.GenerateKey("ed25519")
	ci, _ := attest.GenerateKey("ed25519")
	create, _ := attest.ParseRuleString("CREATE app")
	layout := &attest.Layout{
		Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat),
		Keys:    map[string]*attest.Key{ci.Key().KeyID: ci.Key()},
		Steps:   []attest.Step{{Name: "build", Threshold: 1, PubKeys: []string{ci.Key().KeyID}, ExpectedProducts: [][]string{create.Tokens()}}},
	}
	if err := layout.SetSLSA(&attest.SLSADeclaration{Build: "build", Hosted: []string{ci.Key().KeyID}}); err != nil {
		fmt.Println(err)
		return
	}
	payload, _ := layout.Marshal()
	layoutEnv, _ := attest.SignPayload(attest.FormDSSE, payload, owner)
	lp, _ := (&attest.Link{Name: "build", Products: map[string]attest.HashObj{"app": {"sha256": "ab"}}}).Marshal()
	linkEnv, _ := attest.SignPayload(attest.FormDSSE, lp, ci)

	report, _ := verify.Verify(context.Background(),
		verify.Evidence{Source: "root.layout", Envelope: layoutEnv},
		[]verify.Evidence{{Source: "build.link", Envelope: linkEnv}},
		verify.Options{LayoutKeys: []*attest.Key{owner.Key()}})
	res := slsa.Level(layout, report)
	fmt.Println(res.Level)
	for _, q := range res.Requirements {
		fmt.Printf("L%d %s: %v\n", q.Level, q.Name, q.Met)
	}
	fmt.Println(res.Requirements[2].Reason)
	// Output:
	// SLSA_BUILD_LEVEL_2
	// L1 provenance exists: true
	// L2 provenance signed by a hosted build platform: true
	// L3 hardened build platform: false
	// the layout declares no hardened build platform
}
