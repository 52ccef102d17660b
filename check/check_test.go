package check_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/check"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustCompile(t testing.TB, expr string) *check.Program {
	t.Helper()
	p, err := check.Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The expressions a layout owner writes for the usual scanners' reports.
const (
	noCritical      = `input.vulnerabilities.all(v, v.severity != "CRITICAL")`
	trivyNoCritical = `input.Results.all(r, !has(r.Vulnerabilities) || r.Vulnerabilities.all(v, v.Severity != "CRITICAL"))`
	grypeNoCritical = `input.matches.all(m, m.vulnerability.severity != "Critical")`
)

func TestEval(t *testing.T) {
	for _, tc := range []struct {
		name, file, expr string
		pass             bool
		reason           []string // in the Reason, in order
	}{
		{"simple report with a CRITICAL entry", "vulnerability-report.json", noCritical, false, []string{
			"`" + noCritical + "` is false",
			`for v = input.vulnerabilities[1] = {"cvss": 10, "id": "CVE-2024-3094"`,
			`v.severity != "CRITICAL" is false: v.severity is "CRITICAL"`,
		}},
		{"trivy report with a CRITICAL entry", "trivy-critical.json", trivyNoCritical, false, []string{
			"is false: for r = input.Results[0] = ",
			`for v = r.Vulnerabilities[1] = {"CVSS": {"nvd": {"V3Score": 10}}, "FixedVersion": "5.6.1+really5.4.5-1"`,
			`v.Severity is "CRITICAL"`,
		}},
		{"trivy report without one", "trivy-clean.json", trivyNoCritical, true, []string{
			"is true: all 3 elements of input.Results satisfy it",
		}},
		{"grype report with a Critical match", "grype-critical.json", grypeNoCritical, false, []string{
			`for m = input.matches[0] = `, `m.vulnerability.severity is "Critical"`,
		}},
		{"exists names the element found", "trivy-critical.json",
			`input.Results.exists(r, r.Class == "lang-pkgs" && r.Vulnerabilities.exists(v, v.PkgName == "golang.org/x/net"))`, true, []string{
				"for r = input.Results[1] = ", `for v = r.Vulnerabilities[0] = `, `v.PkgName is "golang.org/x/net"`,
			}},
		{"exists false says none", "vulnerability-report.json", `input.vulnerabilities.exists(v, v.severity == "HIGH")`, false, []string{
			"none of the 3 elements of input.vulnerabilities does",
		}},
		{"exists_one counts", "vulnerability-report.json", `input.vulnerabilities.exists_one(v, v.cvss > 9)`, false, []string{
			"2 of the 3 elements of input.vulnerabilities do: input.vulnerabilities[0], input.vulnerabilities[1]",
		}},
		{"size of a filter", "vulnerability-report.json", `size(input.vulnerabilities.filter(v, v.severity == "CRITICAL")) == 0`, false, []string{
			`size(input.vulnerabilities.filter(v, v.severity == "CRITICAL")) is 1`, `"id": "CVE-2024-3094"`,
		}},
		{"a double compares with an int", "vulnerability-report.json", `input.vulnerabilities.all(v, v.cvss < 9)`, false, []string{
			`for v = input.vulnerabilities[0] = `, "v.cvss < 9 is false: v.cvss is 9.8",
		}},
		{"&& names the false operand", "vulnerability-report.json", `input.scanner.startsWith("example") && input.vulnerabilities.size() < 3`, false, []string{
			"input.vulnerabilities.size() < 3 is false: input.vulnerabilities.size() is 3",
		}},
		{"two-variable all over a list", "vulnerability-report.json", `input.vulnerabilities.all(i, v, i == 0 || v.cvss < 10)`, false, []string{
			`for i, v = 1, input.vulnerabilities[1] = `,
		}},
		{"a map's keys", "trivy-critical.json", `input.Metadata.OS.all(k, k in ["Family", "Name"])`, true, []string{
			"all 2 keys of input.Metadata.OS satisfy it",
		}},
		{"matches, strings and sets extensions", "trivy-critical.json",
			`input.ArtifactName.matches("^registry\\.example/") && input.Metadata.OS.Family.upperAscii() == "DEBIAN" && sets.contains(["debian", "gomod", "yaml"], input.Results.map(r, r.Type))`, true, nil},
		{"lists extension and bind", "vulnerability-report.json",
			`cel.bind(ids, input.vulnerabilities.map(v, v.id), ids.distinct().size() == ids.size() && ids.sort()[0] == "CVE-2023-45853")`, true, nil},
		{"optional field", "vulnerability-report.json", `input.?suppressed.orValue([]).size() == 0`, true, nil},
		{"ternary", "vulnerability-report.json", `input.vulnerabilities.size() > 2 ? input.vulnerabilities[2].severity == "LOW" : true`, false, []string{
			"input.vulnerabilities.size() > 2 is true", `input.vulnerabilities[2].severity == "LOW" is false: input.vulnerabilities[2].severity is "MEDIUM"`,
		}},
		{"timestamps and durations", "trivy-critical.json",
			`timestamp(input.CreatedAt) > timestamp("2026-11-01T00:00:00Z") && timestamp(input.CreatedAt) - timestamp("2026-11-01T00:00:00Z") < duration("720h")`, true, nil},
		{"regex extension", "trivy-critical.json",
			`regex.extract(input.Metadata.ImageID, "^sha256:([0-9a-f]{64})$").hasValue()`, true, nil},
		{"statement is null for a file", "vulnerability-report.json", `statement == null`, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.expr)
			r, err := check.File(t.Context(), p, tc.file, readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.Pass != tc.pass {
				t.Errorf("Pass = %v, want %v (%s)", r.Pass, tc.pass, r.Reason)
			}
			rest := r.Reason
			for _, want := range tc.reason {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("reason lacks %q (in order):\n%s", want, r.Reason)
				}
				rest = rest[i+len(want):]
			}
			if strings.ContainsAny(r.Reason, "\n\r") {
				t.Errorf("reason is not one line: %q", r.Reason)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	doc := []byte(`{"vulnerabilities": [{"id": "CVE-1", "severity": "LOW"}, {"id": "CVE-2"}], "count": "3"}`)
	for _, tc := range []struct {
		name, expr string
		want       []string
	}{
		{"no such key", `input.nope == 1`, []string{"at input.nope: no such key: nope"}},
		{"no such key in an element", `input.vulnerabilities.all(v, v.severity != "CRITICAL")`, []string{
			`at v.severity for v = input.vulnerabilities[1] = {"id": "CVE-2"}: no such key: severity`,
		}},
		{"types that do not compare", `input.count > 2`, []string{`at input.count > 2 (input.count is "3", of type string): no such overload`}},
		{"index out of range", `input.vulnerabilities[5].id == "x"`, []string{"at input.vulnerabilities[5] (input.vulnerabilities is [", "index out of bounds: 5"}},
		{"statement of a plain file", `statement.predicateType == "x"`, []string{"at statement.predicateType"}},
		{"division by zero", `input.vulnerabilities.size() / 0 == 1`, []string{"division by zero"}},
		{"a JSON value that is not a bool", `input.count`, []string{`: its value is "3", not a bool`}},
		{"a JSON list", `input.vulnerabilities`, []string{`: its value is [`, `not a bool`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.expr)
			r, err := check.File(t.Context(), p, "report.json", doc)
			var ee *check.EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v (result %+v), want an *EvalError", err, r)
			}
			if ee.Expr != tc.expr || ee.Document != "report.json" {
				t.Errorf("EvalError names %q over %q", ee.Expr, ee.Document)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "CEL expression `"+tc.expr+"` over report.json failed") || strings.Contains(msg, "\n") {
				t.Errorf("message: %s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %s", w, msg)
				}
			}
		})
	}
}

// TestJSONValueResult: an expression whose value is read from the
// document, of any type until it is evaluated, is a check when that value
// is a bool.
func TestJSONValueResult(t *testing.T) {
	p := mustCompile(t, `input.ok`)
	for _, tc := range []struct {
		doc  string
		pass bool
	}{{`{"ok": true}`, true}, {`{"ok": false}`, false}} {
		r, err := check.File(t.Context(), p, "r.json", []byte(tc.doc))
		if err != nil || r.Pass != tc.pass || !strings.Contains(r.Reason, "`input.ok` is ") {
			t.Errorf("%s: %+v, %v", tc.doc, r, err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, expr, want string
	}{
		{"syntax", `input.x ==`, "CEL expression `input.x ==`: at column 11: Syntax error"},
		{"int result", `size(input.vulnerabilities)`, "gives a value of type int, not a bool"},
		{"string result", `"yes"`, "gives a value of type string, not a bool"},
		{"arithmetic result", `1 + 2`, "gives a value of type int, not a bool"},
		{"list result", `[input.x]`, "gives a value of type list(dyn), not a bool"},
		{"unknown variable", `document.x == 1`, "undeclared reference to 'document'"},
		{"unknown function", `input.x.frobnicate()`, "undeclared reference to 'frobnicate'"},
		{"bad regex literal", `input.x.matches("[")`, "at column"},
		{"empty", "  ", "CEL expression is empty"},
		{"second line", "input.x == 1 &&\n  input.y ==", "at line 2 column"},
		{"too long", "input.x == '" + strings.Repeat("a", check.MaxExpressionBytes) + "'", "bytes, more than 16384"},
		{"not UTF-8", "input.x == '\xff'", "is not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := check.Compile(tc.expr)
			if err == nil {
				t.Fatal("compiled")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line with %q", err, tc.want)
			}
		})
	}
}

func TestReasonBounded(t *testing.T) {
	var keys strings.Builder
	for i := range 1000 {
		if i > 0 {
			keys.WriteString(",")
		}
		keys.WriteString(`"k` + itoa(i) + `": 1`)
	}
	doc := []byte(`{"vulnerabilities": [{"id": "CVE-1", "severity": "CRITICAL", "title": "` + strings.Repeat("ü", 100000) + `", "refs": {` + keys.String() + `}}]}`)
	r, err := check.File(t.Context(), mustCompile(t, noCritical), "report.json", doc)
	if err != nil || r.Pass {
		t.Fatal(r, err)
	}
	if n := len([]rune(r.Reason)); n > 1001 {
		t.Errorf("reason of %d runes", n)
	}
	if !strings.Contains(r.Reason, `{"id": "CVE-1", "refs": {1000 keys}, "severity": "CRITICAL", "title": "üüü`) || !strings.Contains(r.Reason, `v.severity is "CRITICAL"`) {
		t.Errorf("reason: %s", r.Reason)
	}

	// Quantifiers nested deeper than those explained element by element.
	deep := `input.all(a, a.all(b, b.all(c, c.all(d, d.all(e, e.all(f, f.all(g, g.all(h, h.all(i, i.all(j, j != 1))))))))))`
	nested := strings.Repeat("[", 10) + "1" + strings.Repeat("]", 10)
	r, err = check.File(t.Context(), mustCompile(t, deep), "deep.json", []byte(nested))
	if err != nil || r.Pass || !strings.Contains(r.Reason, "for a = input[0] = ") {
		t.Errorf("%+v %v", r, err)
	}
}

func TestConcurrentEval(t *testing.T) {
	p := mustCompile(t, trivyNoCritical)
	data := readTestdata(t, "trivy-critical.json")
	want, err := check.File(t.Context(), p, "trivy.json", data)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			r, err := check.File(t.Context(), p, "trivy.json", data)
			if err == nil && r != want {
				err = errors.New("different result: " + r.Reason)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Expressions as Kubernetes ValidatingAdmissionPolicies write them, with
// object renamed input.
func TestKubernetesStyle(t *testing.T) {
	pod := []byte(`{"apiVersion": "v1", "kind": "Pod",
		"metadata": {"name": "app-7d4b9", "labels": {"app": "web", "team": "payments"}},
		"spec": {"replicas": 3, "containers": [
			{"name": "app", "image": "registry.example/app:1.4.2", "securityContext": {"runAsNonRoot": true},
			 "resources": {"limits": {"memory": "256Mi"}}},
			{"name": "sidecar", "image": "registry.example/proxy:2.0", "securityContext": {"runAsNonRoot": true}}]}}`)
	for _, expr := range []string{
		`input.spec.containers.all(c, c.image.startsWith("registry.example/"))`,
		`input.spec.containers.all(c, has(c.securityContext) && c.securityContext.runAsNonRoot == true)`,
		`!has(input.spec.hostNetwork) || input.spec.hostNetwork == false`,
		`input.metadata.name.matches('^[a-z0-9-]+$')`,
		`'team' in input.metadata.labels && input.metadata.labels.team != ''`,
		`input.metadata.labels.all(k, v, k.size() <= 63 && v.size() <= 63)`,
		`input.spec.?replicas.orValue(1) <= 5`,
		`input.spec.containers.map(c, c.name).exists_one(n, n == "app")`,
		`input.spec.containers.all(c, c.image.split(":").size() == 2 && c.image.lastIndexOf(":") > 0)`,
		`sets.intersects(input.spec.containers.map(c, c.name), ["app"])`,
		`input.spec.containers.filter(c, has(c.resources) && has(c.resources.limits)).size() >= 1`,
		`cel.bind(names, input.spec.containers.map(c, c.name), names.size() == names.distinct().size())`,
		`input.spec.containers.exists(c, c.?resources.?limits.?memory.orValue("") == "256Mi")`,
		`size(input.metadata.name) < 64 && input.metadata.name.lowerAscii() == input.metadata.name`,
	} {
		r, err := check.File(t.Context(), mustCompile(t, expr), "pod.json", pod)
		if err != nil || !r.Pass {
			t.Errorf("%s: %+v %v", expr, r, err)
		}
	}
}
