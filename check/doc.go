// Package check evaluates native checks: CEL expressions over the JSON
// evidence of a supply chain (a scan report, an SBOM, the predicate of an
// in-toto attestation), evaluated in-process with no command run.
//
// An inspection of an in-toto layout whose run is
//
//	referee check --cel EXPR [--attestation PREDICATE_TYPE --signed-by KEYID] [--image IMAGE] FILE...
//
// is such a check (ParseCommand recognises it). The expression sees the
// document as input and, for an attestation, the whole in-toto Statement
// as statement; its value is a bool:
//
//	input.vulnerabilities.all(v, v.severity != "CRITICAL")
//
// The language is CEL (https://github.com/google/cel-spec), as Kubernetes
// admission policies write it, evaluated by google/cel-go (the Go module
// cel.dev/cel-go), with the extensions those policies offer from it:
// strings, lists, sets, math, regex (and matches), bindings,
// two-variable comprehensions and optionals.
//
// The document may come from a registry an attacker can write to: it is
// read by referee's strict JSON reader within MaxDocumentBytes and
// MaxDocumentDepth, and an evaluation is bounded by MaxCost and its
// context. A check that cannot be evaluated is an *EvalError, neither
// true nor false.
package check
