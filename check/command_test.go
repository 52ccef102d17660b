package check_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/referee-dev/referee/check"
)

func TestParseCommand(t *testing.T) {
	const expr = `input.vulnerabilities.all(v, v.severity != "CRITICAL")`
	for _, tc := range []struct {
		name string
		argv []string
		want check.Spec
	}{
		{"file", []string{"referee", "check", "--cel", expr, "vulnerability-report.json"},
			check.Spec{CEL: expr, Files: []string{"vulnerability-report.json"}}},
		{"path to referee, = and one dash", []string{"/usr/local/bin/referee", "check", "-cel=" + expr, "a.json", "b.json"},
			check.Spec{CEL: expr, Files: []string{"a.json", "b.json"}}},
		{"flags after the file", []string{"referee", "check", "report.json", "--cel", expr},
			check.Spec{CEL: expr, Files: []string{"report.json"}}},
		{"attestation", []string{"referee", "check", "--attestation", "https://cosign.sigstore.dev/attestation/vuln/v1", "--signed-by", "ab12cd", "--cel", expr},
			check.Spec{CEL: expr, Attestation: "https://cosign.sigstore.dev/attestation/vuln/v1", SignedBy: "ab12cd"}},
		{"attestation of another image", []string{"referee", "check", "--cel", expr, "--attestation=https://slsa.dev/provenance/v1", "--signed-by=ab12cd", "--image", "registry.example/base:1"},
			check.Spec{CEL: expr, Attestation: "https://slsa.dev/provenance/v1", SignedBy: "ab12cd", Image: "registry.example/base:1"}},
		{"a value that starts with a dash", []string{"referee", "check", "--cel", "-1 < input.n", "n.json"},
			check.Spec{CEL: "-1 < input.n", Files: []string{"n.json"}}},
		{"files after --", []string{"referee", "check", "--cel", expr, "--", "--cel", "-"},
			check.Spec{CEL: expr, Files: []string{"--cel", "-"}}},
		{"- is a file", []string{"referee", "check", "--cel", expr, "-"},
			check.Spec{CEL: expr, Files: []string{"-"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := check.ParseCommand(tc.argv)
			if err != nil || !ok {
				t.Fatalf("ok %v, err %v", ok, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseCommandOther(t *testing.T) {
	for _, argv := range [][]string{
		nil,
		{"referee"},
		{"python3", "-c", "import json; ..."},
		{"referee", "verify", "registry.example/app:1"},
		{"referee-check", "check", "--cel", "true", "a.json"},
		{"/opt/notreferee", "check", "--cel", "true", "a.json"},
		{"sh", "-c", "referee check --cel true a.json"},
		{"referee", "--verbose", "check", "--cel", "true", "a.json"},
	} {
		spec, ok, err := check.ParseCommand(argv)
		if ok || err != nil || !reflect.DeepEqual(spec, check.Spec{}) {
			t.Errorf("%q: %+v %v %v, want a command that is not a check", argv, spec, ok, err)
		}
	}
}

func TestParseCommandMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string // after referee check
		want string
	}{
		{"unknown flag", []string{"--cel", "true", "--key", "k", "a.json"}, "unknown flag --key"},
		{"help", []string{"--help"}, "unknown flag --help"},
		{"no --cel", []string{"a.json"}, "--cel EXPR is missing"},
		{"empty --cel", []string{"--cel", "", "a.json"}, "--cel EXPR is missing"},
		{"--cel without value", []string{"a.json", "--cel"}, "--cel needs a value"},
		{"--cel twice", []string{"--cel", "true", "--cel=false", "a.json"}, "--cel is given twice"},
		{"--signed-by without --attestation", []string{"--cel", "true", "--signed-by", "ab12", "a.json"}, "--signed-by needs --attestation"},
		{"--attestation without --signed-by", []string{"--cel", "true", "--attestation", "https://slsa.dev/provenance/v1"}, "--attestation needs --signed-by"},
		{"--image without --attestation", []string{"--cel", "true", "--image", "registry.example/app:1", "a.json"}, "--image needs --attestation"},
		{"nothing to check", []string{"--cel", "true"}, "nothing to check: name a FILE or --attestation"},
		{"empty file name", []string{"--cel", "true", ""}, "a file name is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := check.ParseCommand(append([]string{"referee", "check"}, tc.args...))
			if !ok || err == nil {
				t.Fatalf("ok %v, err %v", ok, err)
			}
			if !strings.HasPrefix(err.Error(), "referee check: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}
