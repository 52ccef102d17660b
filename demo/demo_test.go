package demo_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/referee-dev/referee/demo"
)

func TestDemo(t *testing.T) {
	var log bytes.Buffer
	dir := t.TempDir()
	ref, err := demo.Run(context.Background(), demo.Options{Dir: dir, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+/referee-demo@sha256:[0-9a-f]{64}$`).MatchString(ref) {
		t.Errorf("demo returned %q, not a digest reference", ref)
	}
	out := log.String()
	for _, want := range []string{"PASS: the supply chain verifies", "NOT VERIFIED", `FAIL step "push"`, "evidence copied from another image", "application/vnd.referee.in-toto.layout.v1.dsse+json"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo narration lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "owner.pub")); err != nil {
		t.Errorf("the layout key is not kept: %v", err)
	}
}
