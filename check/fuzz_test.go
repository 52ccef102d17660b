package check_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/check"
)

// FuzzCheck compiles and evaluates expressions over documents: neither
// may panic, a result's reason is one line, and an evaluation error is an
// *EvalError.
func FuzzCheck(f *testing.F) {
	docs := []string{
		`{"vulnerabilities": [{"id": "CVE-1", "severity": "LOW", "cvss": 3.5}, {"id": "CVE-2", "severity": "CRITICAL", "cvss": 10}]}`,
		`{"Results": [{"Target": "a"}, {"Target": "b", "Vulnerabilities": [{"Severity": "CRITICAL"}]}]}`,
		`{"m": {"a": 1, "b": [true, null, 1e3, -0, 18446744073709551615]}}`,
		`[1, 2, 3]`, `"text"`, `null`, `{"a": {"a": {"a": {}}}}`, `{"a": 1, "a": 2}`, "\xff", `{`,
	}
	exprs := []string{
		noCritical, trivyNoCritical, grypeNoCritical,
		`input.vulnerabilities.exists(v, v.cvss > 9.0)`,
		`input.vulnerabilities.exists_one(v, v.severity == "LOW")`,
		`size(input.vulnerabilities.filter(v, v.severity == "CRITICAL")) == 0`,
		`input.m.all(k, v, v != null)`, `cel.bind(x, input.m, x.a == 1)`,
		`input.?a.?a.orValue({}) == {}`, `input[0] == 1 ? true : input[1] > 1`,
		`input.matches("^t") && input.size() > 2`, `lists.range(5).all(i, i < 5)`,
		`sets.contains([1, 2], [1])`, `math.greatest(input) > 2`, `statement == null`,
		`input.a.b.c.d`, `1 / 0 == 1`, `!(input in [1])`, `input.x ==`, "",
	}
	for i, e := range exprs {
		f.Add(e, []byte(docs[i%len(docs)]))
	}
	for _, d := range docs {
		f.Add(noCritical, []byte(d))
	}
	f.Fuzz(func(t *testing.T, expr string, data []byte) {
		p, err := check.Compile(expr)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("compile error on two lines: %q", err)
			}
			return
		}
		if p.String() != expr {
			t.Errorf("String() = %q", p.String())
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		doc, err := check.ReadJSON("f.json", data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("read error on two lines: %q", err)
			}
			return
		}
		r, err := p.Eval(ctx, check.Input{Document: doc, Statement: doc})
		if err != nil {
			var ee *check.EvalError
			if !errors.As(err, &ee) {
				t.Errorf("error %v is not an *EvalError", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("eval error on two lines: %q", err)
			}
			return
		}
		if strings.Contains(r.Reason, "\n") || !strings.HasPrefix(r.Reason, "`") {
			t.Errorf("reason %q", r.Reason)
		}
	})
}
