package verify_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/check"
	"github.com/referee-dev/referee/verify"
)

const scanPredicate = "https://example.com/scan-result/v1"

// statement is an in-toto Statement about image with predicate.
func statement(t *testing.T, typ, predicateType, image string, predicate any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"_type":         typ,
		"subject":       []any{map[string]any{"name": "registry.example/app", "digest": map[string]string{"sha256": strings.TrimPrefix(image, "sha256:")}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attestation(t *testing.T, source string, payload []byte, signers ...*attest.Signer) verify.Evidence {
	t.Helper()
	env, err := attest.SignPayload(attest.FormDSSE, payload, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return verify.Evidence{Source: source, Envelope: env}
}

// TestAttestationChecks: a native check of attestations counts only
// statements of its predicate type, signed by the layout key it names,
// about the image verified; each is evaluated and all must hold.
func TestAttestationChecks(t *testing.T) {
	c := newScanChain(t, nil)
	dave, carol, eve := c.keys["dave"], c.keys["carol"], mustKey(t)
	otherImage := "sha256:" + sum([]byte("another image"))
	clean := map[string]any{"scanner": map[string]any{"name": "grype", "result": "clean"}}
	dirty := map[string]any{"scanner": map[string]any{"name": "grype", "result": "critical"}}
	v1 := attest.StatementTypeV1
	good := attestation(t, "referrer sha256:aaaa (referee)", statement(t, v1, scanPredicate, imageDigest, clean), dave)
	tampered := attestation(t, "referrer sha256:tttt (referee)", statement(t, v1, scanPredicate, imageDigest, dirty), dave)
	tampered.Envelope.Payload = statement(t, v1, scanPredicate, imageDigest, clean)
	unsignedEnv := attest.NewEnvelope(attest.FormDSSE, statement(t, v1, scanPredicate, imageDigest, clean))
	// cosign's signatures carry no keyid: one by another key is not the
	// named key's signature "over other content".
	anonymous := attestation(t, "cosign by eve", statement(t, v1, scanPredicate, imageDigest, clean), eve)
	anonymous.Envelope.Signatures[0].KeyID = ""

	const expr = `input.scanner.result == "clean"`
	run := func(signedBy string, extra ...string) []string {
		return append([]string{"referee", "check", "--attestation", scanPredicate, "--signed-by", signedBy, "--cel", expr}, extra...)
	}
	daveID := dave.Key().KeyID
	for _, tc := range []struct {
		name   string
		run    []string
		atts   []verify.Evidence
		local  bool
		checks int      // checks reported when verified
		want   []string // fragments of the first failure; nil: verified
	}{
		{name: "right key and subject", atts: []verify.Evidence{good}, checks: 1},
		{name: "named by the current keyid", run: run(dave.Key().CurrentID()), atts: []verify.Evidence{good}, checks: 1},
		{name: "cosign's v0.1 statement", atts: []verify.Evidence{attestation(t, "sha256-x.att (cosign)", statement(t, attest.StatementTypeV01, scanPredicate, imageDigest, clean), dave)}, checks: 1},
		{name: "the image as --image names it", run: run(daveID, "--image", "registry.example/app@"+imageDigest), atts: []verify.Evidence{good}, checks: 1},
		{name: "the statement as statement", run: []string{"referee", "check", "--attestation", scanPredicate, "--signed-by", daveID, "--cel", `statement.subject[0].name == "registry.example/app"`}, atts: []verify.Evidence{good}, checks: 1},
		{name: "others of other types and images beside it", atts: []verify.Evidence{
			attestation(t, "other-type", statement(t, v1, "https://slsa.dev/provenance/v1", imageDigest, dirty), dave),
			attestation(t, "other-image", statement(t, v1, scanPredicate, otherImage, dirty), dave),
			attestation(t, "other-key", statement(t, v1, scanPredicate, imageDigest, dirty), eve),
			good,
		}, checks: 1},
		{name: "two that hold", atts: []verify.Evidence{good, attestation(t, "second", statement(t, v1, scanPredicate, imageDigest, clean), dave, eve)}, checks: 2},

		{name: "signed by another key", atts: []verify.Evidence{attestation(t, "by-eve", statement(t, v1, scanPredicate, imageDigest, clean), eve)},
			want: []string{`inspection "verify-no-critical-vulns"`, `no attestation of type "` + scanPredicate + `" signed by key ` + daveID[:8] + " names image " + imageDigest, "by-eve is not signed by key " + daveID[:8]}},
		{name: "signed by another functionary of the layout", atts: []verify.Evidence{attestation(t, "by-carol", statement(t, v1, scanPredicate, imageDigest, clean), carol)},
			want: []string{"no attestation of type", "by-carol is not signed by key"}},
		{name: "about another image", atts: []verify.Evidence{attestation(t, "elsewhere", statement(t, v1, scanPredicate, otherImage, clean), dave)},
			want: []string{"no attestation of type", "elsewhere is about another image (sha256:" + strings.TrimPrefix(otherImage, "sha256:")[:12]}},
		{name: "unsigned", atts: []verify.Evidence{{Source: "buildkit", Envelope: unsignedEnv}},
			want: []string{"no attestation of type", "buildkit is not signed"}},
		{name: "signed without a keyid by another key", atts: []verify.Evidence{anonymous},
			want: []string{"no attestation of type", "cosign by eve is not signed by key " + daveID[:8]}},
		{name: "signature over other content", atts: []verify.Evidence{tampered},
			want: []string{"no attestation of type", "has a signature by key " + daveID[:8] + " that does not verify over its content"}},
		{name: "another predicate type", atts: []verify.Evidence{attestation(t, "provenance", statement(t, v1, "https://slsa.dev/provenance/v1", imageDigest, clean), dave)},
			want: []string{`no attestation of type "` + scanPredicate + `"`}},
		{name: "none", want: []string{`inspection "verify-no-critical-vulns"`, "no attestation of type"}},
		{name: "not an envelope of in-toto", atts: []verify.Evidence{{Source: "nil"}}, want: []string{"no attestation of type"}},
		{name: "the predicate fails the check", atts: []verify.Evidence{attestation(t, "dirty", statement(t, v1, scanPredicate, imageDigest, dirty), dave)},
			want: []string{`inspection "verify-no-critical-vulns"`, "dirty", "is false", `"critical"`}},
		{name: "one of two fails the check", atts: []verify.Evidence{good, attestation(t, "dirty", statement(t, v1, scanPredicate, imageDigest, dirty), dave)},
			want: []string{"dirty", "is false"}},
		{name: "the check errs", run: []string{"referee", "check", "--attestation", scanPredicate, "--signed-by", daveID, "--cel", `input.scan.result == "clean"`}, atts: []verify.Evidence{good},
			want: []string{`inspection "verify-no-critical-vulns"`, "no such key: scan"}},
		{name: "--signed-by names no key of the layout", run: run(eve.Key().KeyID), atts: []verify.Evidence{good},
			want: []string{`inspection "verify-no-critical-vulns"`, "invalid layout: --signed-by " + eve.Key().KeyID + " names no key of the layout"}},
		{name: "another image named by --image", run: run(daveID, "--image", "registry.example/app@"+otherImage), atts: []verify.Evidence{good},
			want: []string{"checks the attestations of image registry.example/app@" + otherImage}},
		{name: "no image: local verification", atts: []verify.Evidence{good}, local: true,
			want: []string{`inspection "verify-no-critical-vulns"`, "need the image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.layout.Inspect[0].Run = tc.run
			if tc.run == nil {
				c.layout.Inspect[0].Run = run(daveID)
			}
			c.layout.Inspect[0].ExpectedMaterials = nil
			o := verify.Options{Attestations: tc.atts, Inspector: countingInspector{t}}
			if tc.local {
				o.ImageDigest = "-"
			}
			r, err := c.verify(c.links(cleanReport), o)
			if tc.want == nil {
				wantPass(t, r, err)
				ins := r.Inspections[0]
				if len(ins.Checks) != tc.checks {
					t.Fatalf("checks %+v, want %d", ins.Checks, tc.checks)
				}
				for _, ch := range ins.Checks {
					if !ch.Passed || ch.Attestation == "" || ch.PredicateType != scanPredicate || !strings.Contains(ch.Reason, "is true") {
						t.Errorf("check %+v", ch)
					}
				}
				if text := reportText(r); !strings.Contains(text, "  check attestation "+ins.Checks[0].Attestation+": passed: ") {
					t.Errorf("report:\n%s", text)
				}
				return
			}
			wantFail(t, r, err, tc.want...)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("failure is not one line: %q", err)
			}
		})
	}
}

// TestAttestationAndFileCheck: one check over a file and the image's
// attestations needs both to hold.
func TestAttestationAndFileCheck(t *testing.T) {
	c := newScanChain(t, nil)
	dave := c.keys["dave"]
	c.layout.Inspect[0].Run = []string{"referee", "check", "--cel", `has(input.vulnerabilities) || input.scanner.result == "clean"`, "--attestation", scanPredicate, "--signed-by", dave.Key().KeyID, "vulnerability-report.json"}
	att := attestation(t, "a", statement(t, attest.StatementTypeV1, scanPredicate, imageDigest, map[string]any{"scanner": map[string]any{"result": "clean"}}), dave)
	store := memArtifacts{"vulnerability-report.json": cleanReport}
	r, err := c.verify(c.links(cleanReport), verify.Options{Artifacts: store, Attestations: []verify.Evidence{att}})
	wantPass(t, r, err)
	if n := len(r.Inspections[0].Checks); n != 2 {
		t.Errorf("%d checks, want the file's and the attestation's", n)
	}
	r, err = c.verify(c.links(cleanReport), verify.Options{Artifacts: store})
	wantFail(t, r, err, "no attestation of type")
	r, err = c.verify(c.links(cleanReport), verify.Options{Attestations: []verify.Evidence{att}})
	wantFail(t, r, err, "not available")
}

// TestJunkAttestationsCostLittle: statements of the checked type that
// anyone who can push attaches, unsigned or signed by a key the check
// does not name, are refused before they are parsed: many large ones
// beside the one that counts cost a scan of their bytes, and the image
// verifies.
func TestJunkAttestationsCostLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 48 MB of attestations")
	}
	c := newScanChain(t, nil)
	dave, eve := c.keys["dave"], mustKey(t)
	junk := make([]int, 1<<20) // 2 MiB of JSON each
	v1 := attest.StatementTypeV1
	payload := statement(t, v1, scanPredicate, imageDigest, map[string]any{"scanner": map[string]any{"result": "critical"}, "junk": junk})
	var atts []verify.Evidence
	for i := range 12 {
		atts = append(atts, verify.Evidence{Source: fmt.Sprintf("unsigned-%d", i), Envelope: attest.NewEnvelope(attest.FormDSSE, payload)})
		atts = append(atts, attestation(t, fmt.Sprintf("by-eve-%d", i), payload, eve))
	}
	atts = append(atts, attestation(t, "good", statement(t, v1, scanPredicate, imageDigest, map[string]any{"scanner": map[string]any{"result": "clean"}}), dave))
	c.layout.Inspect[0].Run = []string{"referee", "check", "--attestation", scanPredicate, "--signed-by", dave.Key().KeyID, "--cel", `input.scanner.result == "clean"`}
	c.layout.Inspect[0].ExpectedMaterials = nil

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	r, err := c.verify(c.links(cleanReport), verify.Options{Attestations: atts, Inspector: countingInspector{t}})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	wantPass(t, r, err)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d junk attestations of %d bytes: verified in %v, %d MB allocated", len(atts)-1, len(payload), took, alloc>>20)
	// Each is scanned for its predicate type and hashed for eve's
	// signature; none is parsed.
	if took > 10*time.Second || alloc > 4*uint64(len(atts)*len(payload)) {
		t.Errorf("junk cost %v and %d MB", took, alloc>>20)
	}
}

// TestCheckAttestations: the attestation part of a native check, outside
// verification (as `referee check --attestation` runs it), counts and
// evaluates as verification does.
func TestCheckAttestations(t *testing.T) {
	c := newScanChain(t, nil)
	dave, eve := c.keys["dave"], mustKey(t)
	v1 := attest.StatementTypeV1
	clean := map[string]any{"scanner": map[string]any{"result": "clean"}}
	dirty := map[string]any{"scanner": map[string]any{"result": "critical"}}
	good := attestation(t, "good", statement(t, v1, scanPredicate, imageDigest, clean), dave)
	bad := attestation(t, "bad", statement(t, v1, scanPredicate, imageDigest, dirty), dave)
	byEve := attestation(t, "by-eve", statement(t, v1, scanPredicate, imageDigest, clean), eve)
	prog, err := check.Compile(`input.scanner.result == "clean"`)
	if err != nil {
		t.Fatal(err)
	}
	q := verify.AttestationQuery{PredicateType: scanPredicate, Keys: []*attest.Key{dave.Key()}, Image: imageDigest}
	for _, tc := range []struct {
		name   string
		atts   []verify.Evidence
		checks int
		want   string // in the first failure; "": none
	}{
		{"one that holds", []verify.Evidence{byEve, good}, 1, ""},
		{"one that is false", []verify.Evidence{good, bad}, 2, `is false`},
		{"only another key's", []verify.Evidence{byEve}, 0, "no attestation of type \"" + scanPredicate + "\" signed by key " + dave.Key().KeyID[:8] + " names image " + imageDigest + "; 1 of this type not counted: by-eve is not signed by key"},
		{"none", nil, 0, "no attestation of type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks, fails := verify.CheckAttestations(t.Context(), q, tc.atts, prog)
			if len(checks) != tc.checks {
				t.Errorf("checks %+v, want %d", checks, tc.checks)
			}
			switch {
			case tc.want == "" && len(fails) != 0:
				t.Errorf("failures %+v", fails)
			case tc.want != "" && (len(fails) == 0 || !strings.Contains(fails[0].Reason, tc.want)):
				t.Errorf("failures %+v, want %q", fails, tc.want)
			}
		})
	}
}
