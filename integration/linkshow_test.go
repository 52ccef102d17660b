//go:build integration

package integration_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestLinkShowPython: `referee link show` reads a link in-toto-run (the
// Python reference) wrote, from its file and from a registry where oras
// attached it: --format json gives the link's signed document as Python
// wrote it and the keyid that signed it; the text names the step, the
// command, materials and products with their hashes. What is not a link
// (the layout, the image) is refused with exit 2.
func TestLinkShowPython(t *testing.T) {
	needOras(t)
	c := makeChain(t)
	host := startEmbeddedRegistry(t)
	ref, digest := pushImage(t, host, "linkshow/app")
	od := orasAttach(t, c.links, ref, c.buildLink)
	layoutDigest := digestLines(t, must(t, "", refereeBin, "attach", ref, c.layout), 1)[0]

	var py struct {
		Signed     map[string]any `json:"signed"`
		Signatures []struct {
			KeyID string `json:"keyid"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal([]byte(readFile(t, c.link(c.buildLink))), &py); err != nil || len(py.Signatures) != 1 {
		t.Fatalf("in-toto-run's link: %v, %d signatures", err, len(py.Signatures))
	}
	type shown struct {
		Source     string         `json:"source"`
		Form       string         `json:"form"`
		Signatures []string       `json:"signatures"`
		Document   map[string]any `json:"document"`
	}
	for _, src := range []string{c.link(c.buildLink), atDigest(ref, od)} {
		r := must(t, "", refereeBin, "link", "show", src, "--format", "json")
		var s shown
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatalf("link show --format json: %v\n%s", err, r)
		}
		if s.Form != "metablock" || len(s.Signatures) != 1 || s.Signatures[0] != py.Signatures[0].KeyID {
			t.Errorf("link show %s: form %q, signatures %v; want metablock signed by %s", src, s.Form, s.Signatures, py.Signatures[0].KeyID)
		}
		if !strings.Contains(s.Source, src) && !strings.Contains(s.Source, od) {
			t.Errorf("link show %s: source %q", src, s.Source)
		}
		if !reflect.DeepEqual(s.Document, py.Signed) {
			t.Errorf("link show %s: the document differs from what in-toto-run signed:\n got  %v\n want %v", src, s.Document, py.Signed)
		}

		r = must(t, "", refereeBin, "link", "show", src)
		products := py.Signed["products"].(map[string]any)
		hash := products["foo.tar.gz"].(map[string]any)["sha256"].(string)
		for _, want := range []string{"build", "tar", "src/foo.py", "foo.tar.gz", hash, py.Signatures[0].KeyID} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("link show %s does not show %s:\n%s", src, want, r)
			}
		}
	}

	for _, tc := range []struct{ name, arg, want string }{
		{"a layout file", c.layout, "layout"},
		{"an attached layout", atDigest(ref, layoutDigest), "layout"},
		{"the image", atDigest(ref, digest), "link"},
	} {
		r := referee(t, "", "link", "show", tc.arg)
		expectExit(t, r, 2)
		if r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("link show of %s: want exit 2, nothing on stdout and %q in stderr:\n%s", tc.name, tc.want, r)
		}
	}
}
