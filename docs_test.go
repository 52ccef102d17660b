package main_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedTestsExist: every test the documentation names as the
// proof of a behaviour (`TestSomething` in README.md and docs/*.md) is a
// test function of this repository, so that a renamed or deleted test
// cannot leave a claim standing without its proof.
func TestDocumentedTestsExist(t *testing.T) {
	defined := map[string]bool{}
	funcRE := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcRE.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "README.md")
	namedRE := regexp.MustCompile("`(Test[A-Z]\\w*)`")
	checked := 0
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range namedRE.FindAllSubmatch(text, -1) {
			checked++
			if !defined[string(m[1])] {
				t.Errorf("%s names %s, which no _test.go file defines", doc, m[1])
			}
		}
	}
	if checked == 0 {
		t.Fatal("no test names found in the documentation: the pattern is wrong")
	}
}
