package check_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/referee-dev/referee/check"
)

// A scan report with a CRITICAL entry fails the check; the reason names
// the entry.
func ExampleFile() {
	report := []byte(`{"vulnerabilities": [
		{"id": "CVE-2023-45853", "severity": "LOW"},
		{"id": "CVE-2024-3094", "severity": "CRITICAL"}]}`)
	prog, err := check.Compile(`input.vulnerabilities.all(v, v.severity != "CRITICAL")`)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := check.File(context.Background(), prog, "vulnerability-report.json", report)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Pass)
	fmt.Println(r.Reason)
	// Output:
	// false
	// `input.vulnerabilities.all(v, v.severity != "CRITICAL")` is false: for v = input.vulnerabilities[1] = {"id": "CVE-2024-3094", "severity": "CRITICAL"}, v.severity != "CRITICAL" is false: v.severity is "CRITICAL"
}

// A check that cannot be evaluated is an *EvalError, neither true nor
// false.
func ExampleEvalError() {
	prog, _ := check.Compile(`input.vulnerabilities.all(v, v.severity != "CRITICAL")`)
	_, err := check.File(context.Background(), prog, "report.json", []byte(`{"vulnerabilities": [{"id": "CVE-2024-3094"}]}`))
	var ee *check.EvalError
	fmt.Println(errors.As(err, &ee))
	fmt.Println(err)
	// Output:
	// true
	// CEL expression `input.vulnerabilities.all(v, v.severity != "CRITICAL")` over report.json failed at v.severity for v = input.vulnerabilities[0] = {"id": "CVE-2024-3094"}: no such key: severity
}

// The predicate of an attestation is input, the whole statement is
// statement.
func ExampleStatementInput() {
	payload := []byte(`{"_type": "https://in-toto.io/Statement/v1",
		"subject": [{"name": "registry.example/app", "digest": {"sha256": "9d2f0c4b8a7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4"}}],
		"predicateType": "https://slsa.dev/provenance/v1",
		"predicate": {"runDetails": {"builder": {"id": "https://github.com/actions/runner"}}}}`)
	in, err := check.StatementInput("provenance of registry.example/app", payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	prog, _ := check.Compile(`statement.predicateType == "https://slsa.dev/provenance/v1" && input.runDetails.builder.id.startsWith("https://github.com/")`)
	r, err := prog.Eval(context.Background(), in)
	fmt.Println(r.Pass, err)
	// Output:
	// true <nil>
}

// An inspection whose run is referee check is a native check.
func ExampleParseCommand() {
	run := []string{"referee", "check", "--cel", `input.vulnerabilities.all(v, v.severity != "CRITICAL")`, "vulnerability-report.json"}
	spec, ok, err := check.ParseCommand(run)
	fmt.Println(ok, err)
	fmt.Println(spec.Files)

	_, ok, _ = check.ParseCommand([]string{"python3", "-c", "..."})
	fmt.Println(ok)
	// Output:
	// true <nil>
	// [vulnerability-report.json]
	// false
}

// An expression whose value is not a bool is refused when it is compiled.
func ExampleCompile() {
	_, err := check.Compile(`size(input.vulnerabilities)`)
	fmt.Println(err)
	// Output:
	// CEL expression `size(input.vulnerabilities)` gives a value of type int, not a bool (true or false)
}
