package attest_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// wrongKinds are layouts with a value of the wrong kind, or not JSON,
// and what ParseLayout says of each: the value's path as CheckJSON
// writes paths, not a Go type's name; the byte of a syntax error.
var wrongKinds = []struct{ payload, want string }{
	{`{"_type":"layout","expires":"2030-01-01T00:00:00Z"`, `layout: invalid JSON: truncated document`},
	{`{"_type":"layout","expires":"2030-01-01T00:00:00Z","keys":{},"steps":[],"inspect":[]} x`, `layout: invalid JSON: trailing data after the document`},
	{`{"_type":"layout","expires":"2030-01-01T00:00:00Z","keys":{},"steps":[,],"inspect":[]}`, `layout: invalid JSON at byte 71: invalid character ',' looking for beginning of value`},
	{`{"_type":"layout" "expires":"x"}`, `layout: invalid JSON at byte 19: invalid character '"' after object key:value pair`},
	{`{"_type":"layout","steps":"x","expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[]}`, `layout: "steps" is a JSON string where a list belongs`},
	{`{"_type":"layout","steps":[{"_type":"step","name":1}],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[]}`, `layout: "steps[0].name" is a JSON number where a string belongs`},
	{`{"_type":"layout","steps":[{"_type":"step","name":"a","threshold":"1"}],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[]}`, `layout: "steps[0].threshold" is a JSON string where a whole number belongs`},
	{`{"_type":"layout","steps":[{"_type":"step","name":"a","threshold":1.5}],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[]}`, `layout: "steps[0].threshold" is a JSON number where a whole number belongs`},
	{`{"_type":"layout","steps":[{"_type":"step","name":"a","threshold":99999999999999999999}],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[]}`, `layout: "steps[0].threshold" is a JSON number where a whole number belongs`},
	{`{"_type":"layout","steps":[{"_type":"step","name":"a","pubkeys":"k"}],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[]}`, `layout: "steps[0].pubkeys" is a JSON string where a list belongs`},
	{`{"_type":"layout","steps":[{"_type":"step","name":"a","expected_materials":[["MATCH",1]]}],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[]}`, `layout: "steps[0].expected_materials[0][1]" is a JSON number where a string belongs`},
	{`{"_type":"layout","steps":[],"expires":5,"keys":{},"inspect":[]}`, `layout: "expires" is a JSON number where a string belongs`},
	{`{"_type":"layout","steps":[],"expires":"2030-01-01T00:00:00Z","keys":[],"inspect":[]}`, `layout: "keys" is a JSON array where an object belongs`},
	{`{"_type":"layout","steps":[],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":{}}`, `layout: "inspect" is a JSON object where a list belongs`},
	{`{"_type":"layout","steps":[],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[{"_type":"inspection","name":"x","run":"ls"}]}`, `layout: "inspect[0].run" is a JSON string where a list belongs`},
	{`{"_type":"layout","steps":[],"expires":"2030-01-01T00:00:00Z","keys":{},"inspect":[],"readme":3}`, `layout: "readme" is a JSON number where a string belongs`},
}

func TestLayoutWrongKinds(t *testing.T) {
	for _, tc := range wrongKinds {
		if _, err := attest.ParseLayout([]byte(tc.payload)); err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n%v, want %s", tc.payload, err, tc.want)
		}
	}
}

// ParseLayout decodes with json/v1 of go-json-experiment, for speed; it
// decodes every layout the references wrote, a 500-step one and the
// wrong kinds above as encoding/json does.
func TestLayoutDecodesAsEncodingJSON(t *testing.T) {
	payloads := map[string][]byte{}
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if entry, ok := strings.CutPrefix(string(data), "go test fuzz v1\n[]byte("); ok { // a fuzz corpus entry
			if s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(entry), ")"))); err == nil {
				data = []byte(s)
			}
		}
		if env, err := attest.ParseEnvelope(data); err == nil {
			if kind, _ := env.PayloadKind(); kind == "layout" {
				payloads[p] = env.Payload
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) < 5 {
		t.Fatalf("only %d layouts in testdata", len(payloads))
	}
	var steps []string
	for i := range 500 {
		rules := fmt.Sprintf(`"expected_materials":[["MATCH","out%03d/*","WITH","PRODUCTS","FROM","step%03d"],["DISALLOW","*"]],"expected_products":[["CREATE","out%03d/*"],["DISALLOW","*"]]`, i-1, i-1, i)
		steps = append(steps, fmt.Sprintf(`{"_type":"step","name":"step%03d","threshold":1,"pubkeys":["k"],"expected_command":["make"],%s}`, i, rules))
	}
	payloads["500 steps"] = []byte(`{"_type":"layout","expires":"2030-01-01T00:00:00Z","readme":"r\u00e9","keys":{},"steps":[` + strings.Join(steps, ",") + `],"inspect":[{"_type":"inspection","name":"i","run":["true"],"expected_materials":[],"expected_products":[]}]}`)
	for _, tc := range wrongKinds {
		payloads[tc.want] = []byte(tc.payload)
	}
	for name, p := range payloads {
		if agree, fast, std := attest.LayoutDecodings(p); !agree {
			t.Errorf("%s: json/v1 and encoding/json disagree (errors: %v; %v)", name, fast, std)
		}
	}
}
