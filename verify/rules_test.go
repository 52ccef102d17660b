package verify_test

import (
	"testing"
)

// TestArtifactRules checks in-toto's rule semantics on one step "s" whose
// materials and products are given, against a step "src" for MATCH. The
// expectations follow the Python reference, the specification's own
// implementation (integration/rules_test.go checks them against the live
// tools).
func TestArtifactRules(t *testing.T) {
	srcProducts := arts{"foo.py": "print", "dir/a.txt": "a", "lib/x.so": "x"}
	for _, tc := range []struct {
		name                string
		materials, products arts
		matRules, prodRules []string
		pass                bool
		mention             string
	}{
		{"unconsumed artifacts are allowed", arts{"x": "1"}, nil, nil, nil, true, ""},
		{"DISALLOW * fails on anything left", arts{"x": "1"}, nil, []string{"DISALLOW *"}, nil, false, `"x"`},
		{"ALLOW consumes before DISALLOW", arts{"x": "1"}, nil, []string{"ALLOW x", "DISALLOW *"}, nil, true, ""},
		{"order matters: DISALLOW first", arts{"x": "1"}, nil, []string{"DISALLOW *", "ALLOW x"}, nil, false, `"x"`},
		{"* crosses /", arts{"a/b/c": "1"}, nil, []string{"ALLOW a*c", "DISALLOW *"}, nil, true, ""},
		{"? matches /", arts{"a/b": "1"}, nil, []string{"ALLOW a?b", "DISALLOW *"}, nil, true, ""},
		{"[!x] negates", arts{"ay": "1"}, nil, []string{"ALLOW a[!x]", "DISALLOW *"}, nil, true, ""},
		{"[!x] excludes x", arts{"ax": "1"}, nil, []string{"ALLOW a[!x]", "DISALLOW *"}, nil, false, `"ax"`},
		{"[^x] is the set {^, x}, not negation", arts{"ay": "1"}, nil, []string{"ALLOW a[^x]", "DISALLOW *"}, nil, false, `"ay"`},
		{"[^x] matches ^", arts{"a^": "1"}, nil, []string{"ALLOW a[^x]", "DISALLOW *"}, nil, true, ""},
		{"unterminated [ is literal", arts{"a[b": "1"}, nil, []string{"ALLOW a[b", "DISALLOW *"}, nil, true, ""},
		{"backslash is literal, not an escape", arts{"a*": "1"}, nil, []string{`ALLOW a\*`, "DISALLOW *"}, nil, false, `"a*"`},
		{"dot files match *", arts{".env": "1"}, nil, []string{"ALLOW *", "DISALLOW *"}, nil, true, ""},
		{"REQUIRE present", arts{"x": "1"}, nil, []string{"REQUIRE x"}, nil, true, ""},
		{"REQUIRE absent", arts{"x": "1"}, nil, []string{"REQUIRE y"}, nil, false, `"y"`},
		{"REQUIRE looks at the queue", arts{"x": "1"}, nil, []string{"ALLOW x", "REQUIRE x"}, nil, false, `"x"`},
		{"REQUIRE is literal, not a pattern", arts{"x": "1"}, nil, []string{"REQUIRE *"}, nil, false, `"*"`},
		{"CREATE new product", nil, arts{"new": "1"}, nil, []string{"CREATE new", "DISALLOW *"}, true, ""},
		{"CREATE does not take an existing file", arts{"f": "1"}, arts{"f": "1"}, nil, []string{"CREATE f", "DISALLOW *"}, false, `"f"`},
		{"DELETE removed material", arts{"old": "1"}, nil, []string{"DELETE old", "DISALLOW *"}, nil, true, ""},
		{"DELETE does not take a kept file", arts{"f": "1"}, arts{"f": "1"}, []string{"DELETE f", "DISALLOW *"}, nil, false, `"f"`},
		{"MODIFY changed file", arts{"f": "1"}, arts{"f": "22"}, []string{"MODIFY f", "DISALLOW *"}, []string{"MODIFY f", "DISALLOW *"}, true, ""},
		{"MODIFY unchanged file", arts{"f": "1"}, arts{"f": "1"}, nil, []string{"MODIFY f", "DISALLOW *"}, false, `"f"`},
		{"MATCH same hash", arts{"foo.py": "print"}, nil, []string{"MATCH foo.py WITH PRODUCTS FROM src", "DISALLOW *"}, nil, true, ""},
		{"MATCH other hash", arts{"foo.py": "evil"}, nil, []string{"MATCH foo.py WITH PRODUCTS FROM src", "DISALLOW *"}, nil, false, "differs"},
		{"MATCH missing in source", arts{"bar.py": "print"}, nil, []string{"MATCH * WITH PRODUCTS FROM src", "DISALLOW *"}, nil, false, "found no"},
		{"MATCH against the wrong set", arts{"foo.py": "print"}, nil, []string{"MATCH foo.py WITH MATERIALS FROM src", "DISALLOW *"}, nil, false, "materials"},
		{"MATCH IN source prefix", arts{"build/a.txt": "a"}, nil, []string{"MATCH a.txt IN build WITH PRODUCTS IN dir FROM src", "DISALLOW *"}, nil, true, ""},
		{"MATCH IN with trailing slash", arts{"build/a.txt": "a"}, nil, []string{"MATCH * IN build/ WITH PRODUCTS IN dir/ FROM src", "DISALLOW *"}, nil, true, ""},
		{"MATCH IN ignores paths outside the prefix", arts{"dir/a.txt": "a"}, nil, []string{"MATCH * IN build WITH PRODUCTS FROM src", "DISALLOW *"}, nil, false, `"dir/a.txt"`},
		{"MATCH destination prefix", arts{"x.so": "x"}, nil, []string{"MATCH x.so WITH PRODUCTS IN lib FROM src", "DISALLOW *"}, nil, true, ""},
		{"keywords are case-insensitive", arts{"foo.py": "print"}, nil, []string{"match foo.py with products from src", "disallow *"}, nil, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChain(t, "a")
			c.step("src", 1, []string{"a"}, nil, nil)
			c.step("s", 1, []string{"a"}, rules(t, tc.matRules...), rules(t, tc.prodRules...))
			r, err := c.verify(c.link("src", "a", nil, srcProducts), c.link("s", "a", tc.materials, tc.products))
			if tc.pass {
				wantPass(t, r, err)
			} else {
				wantFail(t, r, err, `step "s"`, tc.mention)
			}
		})
	}
}
