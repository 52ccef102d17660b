package check_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/check"
)

func TestReadJSONRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "report.json is not JSON: it is empty"},
		{"not JSON", "scan: PASS (12 files)\n", "report.json is not JSON"},
		{"truncated", `{"vulnerabilities": [`, "report.json is not JSON"},
		{"repeated key", `{"severity": "LOW", "severity": "CRITICAL"}`, `report.json is not JSON a check reads: key "severity" appears twice`},
		{"repeated key, escaped", `{"a": [{"id": 1, "\u0069d": 2}]}`, `key "id" appears twice`},
		{"invalid UTF-8", "{\"a\": \"\xff\"}", "report.json is not JSON a check reads: invalid UTF-8 at byte 7"},
		{"lone surrogate", `{"a": "\ud800"}`, "half of a UTF-16 surrogate pair"},
		{"too deep", strings.Repeat("[", check.MaxDocumentDepth+1) + strings.Repeat("]", check.MaxDocumentDepth+1), "nested deeper than 64 levels"},
		{"trailing data", `{"a": 1} {"a": 2}`, "report.json is not JSON"},
		{"number out of range", `{"a": 1e400}`, "report.json: number 1e400 is out of range"},
		{"too large", `{"a": "` + strings.Repeat("x", check.MaxDocumentBytes) + `"}`, fmt.Sprintf("report.json is %d bytes, more than the %d a check reads", check.MaxDocumentBytes+9, check.MaxDocumentBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := check.ReadJSON("report.json", []byte(tc.data))
			if err == nil {
				t.Fatal("read")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line with %q", err, tc.want)
			}
			// File says the same.
			_, ferr := check.File(t.Context(), mustCompile(t, "true"), "report.json", []byte(tc.data))
			if ferr == nil || ferr.Error() != err.Error() {
				t.Errorf("File: %v", ferr)
			}
		})
	}
}

func TestReadJSONDeepestAccepted(t *testing.T) {
	d := check.MaxDocumentDepth
	if _, err := check.ReadJSON("deep.json", []byte(strings.Repeat("[", d)+strings.Repeat("]", d))); err != nil {
		t.Fatal(err)
	}
}

func TestNumbersStayExact(t *testing.T) {
	doc := []byte(`{"big": 9007199254740993, "max": 18446744073709551615, "neg": -9223372036854775808, "cvss": 9.8, "ten": 10.0, "huge": 1e300}`)
	for _, expr := range []string{
		`input.big == 9007199254740993`,
		`input.big != 9007199254740992`,
		`type(input.big) == int`,
		`input.max == 18446744073709551615u`,
		`input.neg == -9223372036854775808`,
		`input.cvss >= 9`,
		`type(input.cvss) == double`,
		`input.ten == 10`,
		`input.huge > 1e299`,
	} {
		r, err := check.File(t.Context(), mustCompile(t, expr), "n.json", doc)
		if err != nil || !r.Pass {
			t.Errorf("%s: %+v %v", expr, r, err)
		}
	}
}

func TestStatementInput(t *testing.T) {
	stmt := []byte(`{"_type": "https://in-toto.io/Statement/v1",
		"subject": [{"name": "registry.example/app", "digest": {"sha256": "9d2f0c4b8a7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4"}}],
		"predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1",
		"predicate": {"scanner": {"uri": "pkg:github/aquasecurity/trivy@0.58.0", "result": {"Results": [{"Target": "app", "Vulnerabilities": [{"Severity": "HIGH"}]}]}}}}`)
	in, err := check.StatementInput("attestation sha256:ab12 of registry.example/app", stmt)
	if err != nil {
		t.Fatal(err)
	}
	p := mustCompile(t, `statement.predicateType.endsWith("/vuln/v1") && statement.subject[0].digest.sha256.size() == 64 && input.scanner.result.Results.all(r, r.Vulnerabilities.all(v, v.Severity != "CRITICAL"))`)
	r, err := p.Eval(t.Context(), in)
	if err != nil || !r.Pass {
		t.Fatalf("%+v %v", r, err)
	}
	_, err = mustCompile(t, `input.nope == 1`).Eval(t.Context(), in)
	if err == nil || !strings.Contains(err.Error(), "over attestation sha256:ab12 of registry.example/app failed") {
		t.Errorf("error %v does not name the attestation", err)
	}

	v01 := []byte(`{"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2", "subject": [], "predicate": {"builder": {"id": "https://github.com/actions"}}}`)
	in, err = check.StatementInput("cosign attestation", v01)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := mustCompile(t, `input.builder.id.startsWith("https://github.com/")`).Eval(t.Context(), in); err != nil || !r.Pass {
		t.Errorf("v0.1: %+v %v", r, err)
	}

	for _, tc := range []struct{ data, want string }{
		{`[]`, "not a JSON object"},
		{`{"_type": "https://example/Statement", "predicateType": "x"}`, `_type is "https://example/Statement", not "https://in-toto.io/Statement/v1"`},
		{`{"_type": "https://in-toto.io/Statement/v1"}`, "it has no predicateType"},
		{`{"_type": "https://in-toto.io/Statement/v1", "_type": "x"}`, `key "_type" appears twice`},
	} {
		if _, err := check.StatementInput("att", []byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.data, err, tc.want)
		}
	}
}

// entries is a report of n vulnerabilities, the last of severity last.
func entries(n int, last string) []byte {
	var b strings.Builder
	b.WriteString(`{"vulnerabilities": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		sev := "LOW"
		if i == n-1 {
			sev = last
		}
		b.WriteString(`{"id": "CVE-2026-` + itoa(10000+i) + `", "package": "pkg` + itoa(i) + `", "severity": "` + sev + `", "cvss": 3.5}`)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestCostLimit(t *testing.T) {
	// Every entry against every other: 9·10⁶ comparisons.
	p := mustCompile(t, `input.vulnerabilities.all(a, input.vulnerabilities.all(b, a.id != b.id || a == b))`)
	start := time.Now()
	_, err := check.File(t.Context(), p, "report.json", entries(3000, "LOW"))
	var ee *check.EvalError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "costs more than the limit of 10000000") {
		t.Fatalf("err = %v, want the cost limit", err)
	}
	t.Logf("refused after %v: %v", time.Since(start), err)
}

func TestContext(t *testing.T) {
	p := mustCompile(t, noCritical)
	doc, err := check.ReadJSON("report.json", entries(10, "LOW"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = p.Eval(ctx, check.Input{Document: doc})
	var ee *check.EvalError
	if !errors.As(err, &ee) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}

	// A deadline stops an evaluation under the cost limit but long.
	slow := mustCompile(t, `input.vulnerabilities.all(a, input.vulnerabilities.exists(b, b.id == a.id))`)
	doc, err = check.ReadJSON("report.json", entries(1000, "LOW"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = slow.Eval(ctx, check.Input{Document: doc})
	if !errors.As(err, &ee) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopped after %v", d)
	}
	// Without the deadline it completes (it is under the cost limit).
	if r, err := slow.Eval(t.Context(), check.Input{Document: doc}); err != nil || !r.Pass {
		t.Errorf("no deadline: %+v %v", r, err)
	}
}

func TestEvalWithoutDocument(t *testing.T) {
	if _, err := mustCompile(t, "true").Eval(t.Context(), check.Input{}); err == nil {
		t.Fatal("evaluated over nothing")
	}
}
