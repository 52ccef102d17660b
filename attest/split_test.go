package attest_test

import (
	"reflect"
	"testing"

	"github.com/referee-dev/referee/attest"
)

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string][]string{
		`tar -cf app.tar src`:    {"tar", "-cf", "app.tar", "src"},
		`sh -c "echo 'a b' > f"`: {"sh", "-c", "echo 'a b' > f"},
		`a 'b "c"' d\ e`:         {"a", `b "c"`, "d e"},
		`x "a\"b\\c\n"`:          {"x", `a"b\c\n`},
		`  `:                     nil,
		`''`:                     {""},
	} {
		got, err := attest.SplitCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`a 'b`, `a "b`} {
		if _, err := attest.SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q): no error", bad)
		}
	}
}
