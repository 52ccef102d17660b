//go:build integration

package integration_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRunMissingArtifactsPython: given materials and products that do not
// exist, in-toto-run 1.3.1 records what exists and exits 0; `referee run`
// does the same (the same artifacts and hashes in its link, signed with the
// same in-toto-keygen key) and warns on stderr for each missing path;
// with -q it warns not and prints nothing.
func TestRunMissingArtifactsPython(t *testing.T) {
	p := needPython(t)
	dir := t.TempDir()
	must(t, dir, p.keygen, "-t", "ed25519", "alice")
	key := filepath.Join(dir, "alice")
	writeFile(t, filepath.Join(dir, "have.txt"), "here\n")
	writeFile(t, filepath.Join(dir, "src", "a.go"), "package a\n")
	materials := []string{"have.txt", "nothere.txt", "src"}
	products := []string{"have.txt", "out.txt", "gone/"}
	cmd := []string{"sh", "-c", "echo made > out.txt"}

	pyArgs := append(append(append([]string{"-n", "python", "-k", key, "-t", "ed25519", "-m"}, materials...), "-p"), products...)
	must(t, dir, p.run, append(append(pyArgs, "--"), cmd...)...)
	ref := []string{"run", "--step-name", "referee", "--key", key, "--out", dir}
	for _, m := range materials {
		ref = append(ref, "--materials", m)
	}
	for _, p := range products {
		ref = append(ref, "--products", p)
	}
	r := referee(t, dir, append(append(ref, "--"), cmd...)...)
	expectExit(t, r, 0)
	for _, missing := range []string{"nothere.txt", "gone/"} {
		if !strings.Contains(r.stderr, missing) || !strings.Contains(r.stderr, "warning") {
			t.Errorf("referee run does not warn that %s is missing:\n%s", missing, r)
		}
	}
	if strings.Contains(r.stderr, "have.txt") {
		t.Errorf("referee run warns about a path that exists:\n%s", r)
	}

	type link struct {
		Signed struct {
			Materials map[string]map[string]string `json:"materials"`
			Products  map[string]map[string]string `json:"products"`
		} `json:"signed"`
	}
	read := func(step string) link {
		m, err := filepath.Glob(filepath.Join(dir, step+".*.link"))
		if err != nil || len(m) != 1 {
			t.Fatalf("%s link: %v %v", step, m, err)
		}
		var l link
		if err := json.Unmarshal([]byte(readFile(t, m[0])), &l); err != nil {
			t.Fatalf("%s: %v", m[0], err)
		}
		return l
	}
	// referee writes DSSE by default; its payload is the link itself.
	refLink := func() link {
		t.Helper()
		res := must(t, dir, refereeBin, "link", "show", strings.TrimSpace(r.stdout), "--format", "json")
		var s struct {
			Document json.RawMessage `json:"document"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &s); err != nil {
			t.Fatalf("link show: %v\n%s", err, res)
		}
		var l link
		if err := json.Unmarshal(s.Document, &l.Signed); err != nil {
			t.Fatal(err)
		}
		return l
	}()
	pyLink := read("python")
	if len(pyLink.Signed.Materials) != 2 || len(pyLink.Signed.Products) != 2 {
		t.Fatalf("in-toto-run recorded materials %v, products %v", pyLink.Signed.Materials, pyLink.Signed.Products)
	}
	if !reflect.DeepEqual(refLink.Signed.Materials, pyLink.Signed.Materials) {
		t.Errorf("materials: referee %v, in-toto-run %v", refLink.Signed.Materials, pyLink.Signed.Materials)
	}
	if !reflect.DeepEqual(refLink.Signed.Products, pyLink.Signed.Products) {
		t.Errorf("products: referee %v, in-toto-run %v", refLink.Signed.Products, pyLink.Signed.Products)
	}

	q := referee(t, dir, append(append(append(ref[:len(ref):len(ref)], "-q"), "--"), cmd...)...)
	expectExit(t, q, 0)
	if q.stdout != "" || q.stderr != "" {
		t.Errorf("referee run -q printed:\n%s", q)
	}
}
