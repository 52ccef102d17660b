package attest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	link, res, err := attest.RunStep(context.Background(), attest.RunOptions{
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
	if len(res.MissingMaterials)+len(res.MissingProducts) != 0 {
		t.Fatalf("missing %+v", res)
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
	symlinkLoop(t, filepath.Join(dir, "loop"))
	for _, tc := range []struct {
		name string
		o    attest.RunOptions
		want []string
	}{
		{"command not found", attest.RunOptions{StepName: "s", Command: []string{"referee-no-such-command-xyz"}}, []string{`running "referee-no-such-command-xyz"`}},
		{"no step name", attest.RunOptions{Command: []string{"true"}}, []string{"needs a name"}},
		{"material in a symlink loop", attest.RunOptions{StepName: "s", Materials: []string{"loop"}}, []string{"materials", `"loop"`, "too many levels of symbolic links"}},
		{"product in a symlink loop", attest.RunOptions{StepName: "s", Products: []string{"loop"}}, []string{"products", `"loop"`, "too many levels of symbolic links"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Record.Dir = dir
			link, res, err := attest.RunStep(context.Background(), tc.o)
			wantErr(t, err, tc.want...)
			if link != nil || res != nil {
				t.Errorf("a failed step returned %v and %v", link, res)
			}
		})
	}
}

// TestRunStepNoCommand records like `in-toto-run` without a command: no
// byproducts at all.
func TestRunStepNoCommand(t *testing.T) {
	dir := tree(t, map[string]string{"f": "x"})
	link, _, err := attest.RunStep(context.Background(), attest.RunOptions{StepName: "review", Products: []string{"f"}, Record: attest.RecordOptions{Dir: dir}})
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
	link, _, err := attest.RunStep(context.Background(), attest.RunOptions{
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

func symlinkLoop(t *testing.T, path string) {
	t.Helper()
	if err := os.Symlink(filepath.Base(path), path); err != nil {
		t.Skipf("symlinks: %v", err)
	}
}

// TestRunStepMissingPaths records what exists, as in-toto-run 1.3 does
// (it logs "path: P does not exist, skipping.."), and lists the given
// paths that were not there, in order.
func TestRunStepMissingPaths(t *testing.T) {
	needSh(t)
	dir := tree(t, map[string]string{"in.txt": "in", "file": "f"})
	if err := os.Symlink("nowhere", filepath.Join(dir, "broken")); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	var told []string
	link, res, err := attest.RunStep(context.Background(), attest.RunOptions{
		StepName:  "build",
		Command:   []string{"sh", "-c", "cp in.txt out.txt"},
		Materials: []string{"in.txt", "nomat", "file/under"},
		Products:  []string{"out.txt", "noprod", "broken"},
		Record:    attest.RecordOptions{Dir: dir, OnMissing: func(p string) { told = append(told, p) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &attest.RunResult{MissingMaterials: []string{"nomat", "file/under"}, MissingProducts: []string{"noprod", "broken"}}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("result %+v, want %+v", res, want)
	}
	if !reflect.DeepEqual(told, []string{"nomat", "file/under", "noprod", "broken"}) {
		t.Fatalf("OnMissing told %q", told)
	}
	if !reflect.DeepEqual(link.Materials, map[string]attest.HashObj{"in.txt": sha("in")}) ||
		!reflect.DeepEqual(link.Products, map[string]attest.HashObj{"out.txt": sha("in")}) {
		t.Fatalf("materials %v products %v", link.Materials, link.Products)
	}

	// record start and stop skip and list the same way.
	o := attest.RunOptions{StepName: "review", Materials: []string{"gone"}, Products: []string{"in.txt", "gone too"}, Record: attest.RecordOptions{Dir: dir}}
	started, res, err := attest.StartStep(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, &attest.RunResult{MissingMaterials: []string{"gone"}}) || len(started.Materials) != 0 {
		t.Fatalf("start: %+v, link %+v", res, started)
	}
	if res, err = attest.StopStep(context.Background(), started, o); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, &attest.RunResult{MissingProducts: []string{"gone too"}}) || len(started.Products) != 1 {
		t.Fatalf("stop: %+v, link %+v", res, started)
	}
}

// TestRunStepUnreadableMaterial checks that a material that cannot be read
// fails the step before its command runs.
func TestRunStepUnreadableMaterial(t *testing.T) {
	needSh(t)
	dir := t.TempDir()
	symlinkLoop(t, filepath.Join(dir, "loop"))
	o := attest.RunOptions{StepName: "build", Command: []string{"sh", "-c", "touch ran"}, Materials: []string{"loop"}, Record: attest.RecordOptions{Dir: dir}}
	wantErr(t, o.Check(), `material "loop"`, "too many levels of symbolic links")
	_, _, err := attest.RunStep(context.Background(), o)
	wantErr(t, err, `"loop"`)
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Fatal("the command ran")
	}
}

func TestRunOptionsCheck(t *testing.T) {
	dir := tree(t, map[string]string{"src/a": "a", "f": "f", "secret": "s", "closed/x": "x"})
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	symlinkLoop(t, filepath.Join(dir, "loop"))
	ok := attest.RunOptions{StepName: "build", Materials: []string{"src", "f", "link", "absent"}, Products: []string{"absent too"}, Record: attest.RecordOptions{Dir: dir}}
	if err := ok.Check(); err != nil {
		t.Fatalf("good options: %v", err)
	}
	root := os.Geteuid() == 0
	for _, tc := range []struct {
		name     string
		mutate   func(*attest.RunOptions)
		want     []string
		needUser bool // permissions do not stop root
	}{
		{"no name", func(o *attest.RunOptions) { o.StepName = "" }, []string{"a step needs a name"}, false},
		{"name with a slash", func(o *attest.RunOptions) { o.StepName = "../build" }, []string{`step name "../build"`, `'/'`}, false},
		{"lstrip prefixes", func(o *attest.RunOptions) { o.Record.LStripPaths = []string{"src/", "src/a"} }, []string{`"src/" is a prefix of "src/a"`}, false},
		{"no such directory", func(o *attest.RunOptions) { o.Record.Dir = filepath.Join(dir, "nope") }, []string{"nope", "no such file"}, false},
		{"directory is a file", func(o *attest.RunOptions) { o.Record.Dir = filepath.Join(dir, "f") }, []string{"is not a directory"}, false},
		{"symlink refused", func(o *attest.RunOptions) { o.Record.RefuseSymlinks = true }, []string{`material "link"`, "is a symlink"}, false},
		{"symlink loop", func(o *attest.RunOptions) { o.Materials = []string{"loop"} }, []string{`material "loop"`, "too many levels"}, false},
		{"unreadable file", func(o *attest.RunOptions) { o.Materials = []string{"secret"} }, []string{`material "secret"`, "permission denied"}, true},
		{"unlistable directory", func(o *attest.RunOptions) { o.Materials = []string{"closed"} }, []string{`material "closed"`, "permission denied"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needUser && root {
				t.Skip("running as root")
			}
			for _, p := range []string{"secret", "closed"} {
				if err := os.Chmod(filepath.Join(dir, p), 0); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(filepath.Join(dir, p), 0o755) })
			}
			o := ok
			tc.mutate(&o)
			wantErr(t, o.Check(), tc.want...)
		})
	}
}

func TestValidateStepName(t *testing.T) {
	for _, name := range []string{"build", "Build step 2", "ünïcode", "a.b", ".hidden", "-dash", strings.Repeat("x", 200)} {
		if err := attest.ValidateStepName(name); err != nil {
			t.Errorf("ValidateStepName(%q): %v", name, err)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"", "a step needs a name"},
		{".", `step name "." cannot name a link file`},
		{"..", `step name ".." cannot name a link file`},
		{"a/b", `step name "a/b" has a '/'`},
		{`a\b`, `has a '\\'`},
		{"a\nb", "control character"},
		{"a\x00b", "control character"},
		{"a\xffb", "not valid UTF-8"},
		{strings.Repeat("x", 201), "201 bytes, more than the 200"},
	} {
		wantErr(t, attest.ValidateStepName(tc.name), tc.want)
	}
}
