package verify_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/verify"
)

// BenchmarkVerify5Steps10000Artifacts verifies a layout of 5 steps whose
// links record 10,000 materials and 10,000 products each, every material
// MATCHed against the step before: signatures, parsing and all rules.
func BenchmarkVerify5Steps10000Artifacts(b *testing.B) {
	const steps, n = 5, 10000
	c := newChain(b, "f")
	var links []verify.Evidence
	prev := map[string]attest.HashObj{}
	for s := 0; s < steps; s++ {
		name := fmt.Sprintf("step%d", s)
		var mat [][]string
		if s > 0 {
			mat = rules(b, fmt.Sprintf("MATCH * WITH PRODUCTS FROM step%d", s-1), "DISALLOW *")
		}
		c.step(name, 1, []string{"f"}, mat, rules(b, fmt.Sprintf("CREATE out%d/*", s), "DISALLOW *"))
		products := map[string]attest.HashObj{}
		for i := 0; i < n; i++ {
			products[fmt.Sprintf("out%d/dir%03d/file%05d.o", s, i%100, i)] = attest.HashObj{"sha256": fmt.Sprintf("%064x", s*n+i)}
		}
		l := &attest.Link{Name: name, Materials: prev, Products: products, Command: []string{"make"}}
		payload, err := l.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		env, err := attest.SignPayload(attest.FormDSSE, payload, c.keys["f"])
		if err != nil {
			b.Fatal(err)
		}
		links = append(links, verify.Evidence{Source: name, Envelope: env})
		prev = products
	}
	layout := c.layoutEvidence()
	opts := verify.Options{LayoutKeys: []*attest.Key{c.owner.Key()}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := verify.Verify(context.Background(), layout, links, opts)
		if err != nil || !r.Verified {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(steps*n*2*b.N)/b.Elapsed().Seconds(), "artifacts/s")
}
