package attest_test

import (
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

func TestCanonicalJSON(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"keys sorted, no whitespace", `{ "b" : 1, "a" : [ true, false, null ] }`, `{"a":[true,false,null],"b":1}`},
		{"nested keys sorted", `{"z":{"y":1,"x":2},"a":""}`, `{"a":"","z":{"x":2,"y":1}}`},
		{"backslash and quote escaped", `{"s":"a\\b\"c"}`, `{"s":"a\\b\"c"}`},
		{"newline and tab kept raw", `{"s":"a\nb\tc"}`, "{\"s\":\"a\nb\tc\"}"},
		{"unicode kept raw", `{"s":"h\u00e9llo ✓ \ud83d\ude00"}`, `{"s":"héllo ✓ 😀"}`},
		{"HTML not escaped", `{"s":"<a&b>"}`, `{"s":"<a&b>"}`},
		{"slash unescaped", `{"s":"a\/b"}`, `{"s":"a/b"}`},
		{"negative integer", `{"n":-42}`, `{"n":-42}`},
		{"large integer", `{"n":9007199254740993}`, `{"n":9007199254740993}`},
		{"empty containers", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := attest.CanonicalJSON([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("CanonicalJSON(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestCanonicalJSONRefused(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"float", `{"n":1.5}`, "floating point"},
		{"exponent", `{"n":1e3}`, "floating point"},
		{"deep nesting", strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), "nested deeper than 64"},
		{"deep arrays", strings.Repeat("[", 100000), "nested deeper than 64"},
		{"trailing data", `{"a":1}{"b":2}`, "trailing data"},
		{"trailing garbage", `{"a":1} x`, "trailing data"},
		{"truncated", `{"a":`, "truncated"},
		{"syntax error", `{"a" 1}`, "invalid JSON at byte"},
		{"empty", ``, "truncated"},
		{"invalid UTF-8", "{\"s\":\"a\xffb\"}", "invalid UTF-8 at byte 7"},
		{"overlong UTF-8", "{\"s\":\"\xc0\xaf\"}", "invalid UTF-8 at byte 6"},
		{"encoded surrogate", "{\"s\":\"\xed\xa0\x80\"}", "invalid UTF-8 at byte 6"},
		{"lone surrogate escape", `{"s":"\ud800"}`, `\ud800 at byte 6 is half of a UTF-16 surrogate pair`},
		{"lone low surrogate escape", `{"\udc00":1}`, `\udc00 at byte 2 is half`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.CanonicalJSON([]byte(tc.in))
			wantErr(t, err, tc.want)
		})
	}
	// 64 levels are allowed; brackets inside strings do not count.
	ok := strings.Repeat("[", 64) + `"[[[[{{{{\"[["` + strings.Repeat("]", 64)
	if _, err := attest.CanonicalJSON([]byte(ok)); err != nil {
		t.Fatalf("64 levels: %v", err)
	}
}
