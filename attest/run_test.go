package attest_test

import (
	"bytes"
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

func needSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
}

func TestRunStep(t *testing.T) {
	needSh(t)
	dir := tree(t, map[string]string{"in.txt": "in"})
	var live bytes.Buffer
	link, err := attest.RunStep(context.Background(), attest.RunOptions{
		StepName:  "build",
		Command:   []string{"sh", "-c", "cat in.txt > out.txt; echo made; echo oops >&2; exit 3"},
		Materials: []string{"in.txt"},
		Products:  []string{"out.txt"},
		Record:    attest.RecordOptions{Dir: dir},
		Stdout:    &live,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"stdout": "made\n", "stderr": "oops\n", "return-value": 3}
	if !reflect.DeepEqual(link.Byproducts, want) {
		t.Fatalf("byproducts %#v, want %#v", link.Byproducts, want)
	}
	if live.String() != "made\n" {
		t.Fatalf("live stdout %q", live.String())
	}
	if !reflect.DeepEqual(link.Materials, map[string]attest.HashObj{"in.txt": sha("in")}) ||
		!reflect.DeepEqual(link.Products, map[string]attest.HashObj{"out.txt": sha("in")}) {
		t.Fatalf("materials %v products %v", link.Materials, link.Products)
	}
	if link.Name != "build" || link.Command[0] != "sh" {
		t.Fatalf("link %+v", link)
	}
	// The link encodes and parses back.
	payload, err := link.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := attest.ParseLink(payload)
	if err != nil {
		t.Fatal(err)
	}
	if back.Byproducts["return-value"] != float64(3) || back.Byproducts["stderr"] != "oops\n" {
		t.Fatalf("parsed byproducts %#v", back.Byproducts)
	}
}

func TestRunStepErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		o    attest.RunOptions
		want []string
	}{
		{"command not found", attest.RunOptions{StepName: "s", Command: []string{"referee-no-such-command-xyz"}}, []string{`running "referee-no-such-command-xyz"`}},
		{"no step name", attest.RunOptions{Command: []string{"true"}}, []string{"needs a name"}},
		{"missing material", attest.RunOptions{StepName: "s", Materials: []string{"absent"}}, []string{"materials", `"absent"`}},
		{"missing product", attest.RunOptions{StepName: "s", Products: []string{"absent"}}, []string{"products", `"absent"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Record.Dir = dir
			_, err := attest.RunStep(context.Background(), tc.o)
			wantErr(t, err, tc.want...)
		})
	}
}

// TestRunStepNoCommand records like `in-toto-run` without a command: no
// byproducts at all.
func TestRunStepNoCommand(t *testing.T) {
	dir := tree(t, map[string]string{"f": "x"})
	link, err := attest.RunStep(context.Background(), attest.RunOptions{StepName: "review", Products: []string{"f"}, Record: attest.RecordOptions{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(link.Byproducts) != 0 || len(link.Command) != 0 || len(link.Products) != 1 {
		t.Fatalf("link %+v", link)
	}
}

// TestRunStepOutputLimit checks that a chatty command's output is cut, not
// kept whole in memory and in the link.
func TestRunStepOutputLimit(t *testing.T) {
	needSh(t)
	link, err := attest.RunStep(context.Background(), attest.RunOptions{
		StepName: "chatty",
		Command:  []string{"sh", "-c", "head -c 3000000 /dev/zero"},
		Record:   attest.RecordOptions{Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := link.Byproducts["stdout"].(string)
	if len(out) > 1<<20+100 || !strings.HasSuffix(out, "[referee: output truncated]") {
		t.Fatalf("stdout of %d bytes, suffix %q", len(out), out[len(out)-30:])
	}
}
