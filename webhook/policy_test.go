package webhook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/webhook"
)

// writeKey writes a new public key file name.pub into dir.
func writeKey(t *testing.T, dir, name string) *attest.Key {
	t.Helper()
	s, err := attest.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	if err := attest.WriteKeyPair(filepath.Join(dir, name), s, true); err != nil {
		t.Fatal(err)
	}
	return s.Key()
}

func writePolicy(t *testing.T, dir, content string) string {
	t.Helper()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const shopPolicy = `policies:                       # first match wins
  - name: shop
    images: ["registry.example.com/shop/**"]
    namespaces: [shop, shop-*]
    layoutKeys: [owner.pub]
    vsaKeys: [promoter.pub]
    minLayoutVersion: 3
    staleIfError: 10m
  - name: tools
    images: ["registry.example.com/tools/*", "docker.io/library/busybox"]
    vsaKeys: [promoter.pub]
    vsaMaxAge: 720h
    requireDigest: true
unmatched: deny
exclude: {namespaces: [referee-system, kube-*]}
`

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	owner := writeKey(t, dir, "owner")
	promoter := writeKey(t, dir, "promoter")
	p, err := webhook.LoadPolicy(writePolicy(t, dir, shopPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rules) != 2 || p.AllowUnmatched || p.Generation == "" {
		t.Fatalf("policy: %+v", p)
	}
	shop := p.Rules[0]
	if shop.Name != "shop" || shop.Line != 2 || shop.MinLayoutVersion != 3 || shop.StaleIfError != 10*time.Minute || shop.RequireDigest ||
		len(shop.LayoutKeys) != 1 || shop.LayoutKeys[0].KeyID != owner.KeyID || shop.VSAKeys[0].KeyID != promoter.KeyID {
		t.Fatalf("shop: %+v", shop)
	}
	if !p.Rules[1].RequireDigest || p.Rules[1].StaleIfError != 0 || p.Rules[1].VSAMaxAge != 720*time.Hour || shop.VSAMaxAge != 0 {
		t.Fatalf("tools: %+v", p.Rules[1])
	}
	for _, tc := range []struct {
		ns, repo, want string
	}{
		{"shop", "registry.example.com/shop/app", "shop"},
		{"shop-eu", "registry.example.com/shop/team/app", "shop"},
		{"other", "registry.example.com/shop/app", ""},         // namespace not covered
		{"shop", "registry.example.com/shop", ""},              // ** needs something below shop/
		{"shop", "registry.example.com/shopping/app", ""},      // not a prefix match
		{"any", "registry.example.com/tools/kubectl", "tools"}, // no namespaces: any
		{"any", "registry.example.com/tools/a/b", ""},          // * stays within a segment
		{"any", "index.docker.io/library/busybox", "tools"},    // docker.io is normalised
		{"shop", "evil.example.com/registry.example.com/shop/app", ""},
	} {
		r, ok := p.Match(tc.ns, tc.repo)
		got := ""
		if ok {
			got = r.Name
		}
		if got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.ns, tc.repo, got, tc.want)
		}
	}
	if !p.Excluded("referee-system") || !p.Excluded("kube-system") || p.Excluded("shop") {
		t.Error("exclude.namespaces")
	}

	// The generation changes with the file and with a key file's content.
	again, err := webhook.ParsePolicy([]byte(shopPolicy), dir)
	if err != nil || again.Generation != p.Generation {
		t.Fatalf("same file and keys: generation %q vs %q (%v)", again.Generation, p.Generation, err)
	}
	edited, err := webhook.ParsePolicy([]byte(strings.Replace(shopPolicy, "10m", "11m", 1)), dir)
	if err != nil || edited.Generation == p.Generation {
		t.Fatalf("edited file: same generation (%v)", err)
	}
	writeKey(t, dir, "owner")
	rekeyed, err := webhook.ParsePolicy([]byte(shopPolicy), dir)
	if err != nil || rekeyed.Generation == p.Generation {
		t.Fatalf("replaced key: same generation (%v)", err)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, "owner")
	if err := os.WriteFile(filepath.Join(dir, "owner.key"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rule := "policies:\n  - name: shop\n    images: [r.example/shop/**]\n    layoutKeys: [owner.pub]\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"typo in a rule", "policies:\n  - name: shop\n    images: [a/**]\n    layoutkeys: [owner.pub]\n", `line 4: unknown field "layoutkeys" in policy "shop" (did you mean layoutKeys?)`},
		{"typo at the top", rule + "unmatch: deny\n", `line 5: unknown field "unmatch"`},
		{"not a mapping", "- a\n", "line 1: a policy file is a mapping"},
		{"images not a list", "policies:\n  - name: shop\n    images: a/**\n    layoutKeys: [owner.pub]\n", `line 3: expected a list in policy "shop", not "a/**"`},
		{"version not a number", rule + "    minLayoutVersion: three\n", `line 5: "three" is not a whole number in policy "shop"`},
		{"requireDigest not a bool", rule + "    requireDigest: yes\n", `line 5: "yes" is not true or false`},
		{"bad unmatched", rule + "unmatched: maybe\n", `line 5: unmatched is deny or allow, not "maybe"`},
		{"no name", "policies:\n  - images: [a/**]\n    layoutKeys: [owner.pub]\n", "line 2: a policy needs a name"},
		{"no images", "policies:\n  - name: shop\n    layoutKeys: [owner.pub]\n", `line 2: policy "shop": images is missing`},
		{"no keys", "policies:\n  - name: shop\n    images: [a/**]\n", `line 2: policy "shop": no layoutKeys or vsaKeys`},
		{"missing key file", "policies:\n  - name: shop\n    images: [a/**]\n    vsaKeys: [nope.pub]\n", `line 2: policy "shop": vsaKeys: `},
		{"duplicate name", rule + strings.TrimPrefix(rule, "policies:\n"), `line 5: policy "shop" is already named at line 2`},
		{"character class", "policies:\n  - name: shop\n    images: [\"a/[!b]\"]\n    layoutKeys: [owner.pub]\n", `policy "shop": images: pattern "a/[!b]": "[" is not part of the pattern language`},
		{"bad grace", rule + "    staleIfError: forever\n", `staleIfError "forever" is not a positive duration`},
		{"bad summary age", "policies:\n  - name: shop\n    images: [a/**]\n    vsaKeys: [owner.pub]\n    vsaMaxAge: old\n", `vsaMaxAge "old" is not a positive duration`},
		{"summary age without vsa keys", rule + "    vsaMaxAge: 1h\n", "vsaMaxAge needs vsaKeys"},
		{"floor without layout keys", "policies:\n  - name: shop\n    images: [a/**]\n    vsaKeys: [owner.pub]\n    minLayoutVersion: 2\n", "minLayoutVersion needs layoutKeys"},
		{"no policies, deny", "unmatched: deny\n", "no policies: every image would be denied"},
		{"field twice", rule + "    images: [b/**]\n", `line 5: field "images" given twice in policy "shop"`},
		{"alias", "x: &a [1]\n", `line 1: unknown field "x"`},
		{"bad yaml", "policies: [\n", "line 1: did not find"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.LoadPolicy(writePolicy(t, dir, tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, filepath.Join(dir, "policy.yaml")+": ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") ||
				strings.Contains(msg, "webhook.") || strings.Contains(msg, "attest.") {
				t.Fatalf("error %q, want the file and %q on one line", msg, tc.want)
			}
		})
	}
	if _, err := webhook.LoadPolicy(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
	if p, err := webhook.ParsePolicy([]byte("unmatched: allow\n"), dir); err != nil || !p.AllowUnmatched {
		t.Fatalf("allow everything: %v", err)
	}
}

func writeExampleKey(dir, name string) error {
	s, err := attest.GenerateKey("")
	if err != nil {
		return err
	}
	return attest.WriteKeyPair(filepath.Join(dir, name), s, true)
}

func TestDeciderLoadPolicyKeepsTheOld(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, "owner")
	writeKey(t, dir, "promoter")
	path := writePolicy(t, dir, shopPolicy)
	p, err := webhook.LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.NewDecider(p, webhook.DeciderOptions{})
	writePolicy(t, dir, strings.Replace(shopPolicy, "layoutKeys", "layoutkeys", 1))
	err = d.LoadPolicy(path)
	if err == nil || !strings.Contains(err.Error(), `unknown field "layoutkeys"`) || !strings.HasSuffix(err.Error(), "(the previous policy stays in use)") {
		t.Fatalf("broken policy: %v", err)
	}
	if d.Policy() != p {
		t.Fatal("the broken policy replaced the old one")
	}
	writePolicy(t, dir, strings.Replace(shopPolicy, "unmatched: deny", "unmatched: allow", 1))
	if err := d.LoadPolicy(path); err != nil || !d.Policy().AllowUnmatched {
		t.Fatalf("fixed policy: %v", err)
	}
}
