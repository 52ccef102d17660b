package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// workloadVersion names the generation of the workloads: change it when
// what makeW1 or makeW2 writes changes, so that cached copies made by an
// older bench are not reused.
const workloadVersion = "v2"

// cachedDir returns work/workloadVersion/name, making it first with generate
// (into name.partial, renamed once complete) unless an earlier run left it
// complete.
func cachedDir(work, name string, generate func(dir string) error) (dir string, reused bool, err error) {
	dir = filepath.Join(work, workloadVersion, name)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, true, nil
	}
	partial := dir + ".partial"
	for _, d := range []string{dir, partial} {
		if err := os.RemoveAll(d); err != nil {
			return "", false, err
		}
	}
	if err := os.MkdirAll(partial, 0o755); err != nil {
		return "", false, err
	}
	if err := generate(partial); err != nil {
		return "", false, fmt.Errorf("workload %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(partial, ".complete"), []byte(workloadVersion+"\n"), 0o644); err != nil {
		return "", false, err
	}
	if err := os.Rename(partial, dir); err != nil {
		return "", false, err
	}
	return dir, false, nil
}

// defaultWork is where workloads are cached unless --work says otherwise.
func defaultWork() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "referee", "bench")
}

// moduleRoot is the directory of the module the bench belongs to, found
// from the working directory (go run ./bench is run in the repository).
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the referee module: run the bench from the repository (go run ./bench)")
	}
	return filepath.Dir(gomod), nil
}

// goBuild builds the package pkg of the module in root into out, as
// .goreleaser.yaml builds the binaries released: static (CGO_ENABLED=0),
// -trimpath, without the symbol table (-s -w); a static binary starts
// about 0.8 ms sooner than one that loads libc.
func goBuild(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if data, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", pkg, root, err, data)
	}
	return nil
}

// lookTool finds a peer on PATH, then in $(go env GOPATH)/bin (where
// go install puts in-toto-golang), or returns "".
func lookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(gp, "bin", name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return ""
}

// peerVersions describes the peers found, for the header: in-toto-golang's
// module version from its build information, the others' --version.
func peerVersions(ctx context.Context, e *env) string {
	var out []string
	first := func(name string, args ...string) string {
		data, err := exec.CommandContext(ctx, name, args...).Output()
		if err != nil {
			return ""
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		return strings.TrimSpace(line)
	}
	if e.inTotoGolang != "" {
		v := "in-toto-golang (version unknown)"
		if data, err := exec.CommandContext(ctx, "go", "version", "-m", e.inTotoGolang).Output(); err == nil {
			for _, l := range strings.Split(string(data), "\n") {
				if f := strings.Fields(l); len(f) >= 3 && f[0] == "mod" {
					v = "in-toto-golang " + f[2]
				}
			}
		}
		out = append(out, v)
	}
	for _, t := range []struct{ path, flag string }{{e.inTotoVerify, "--version"}, {e.openssl, "version"}, {e.sha256sum, "--version"}} {
		if t.path != "" {
			if v := first(t.path, t.flag); v != "" {
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		return "none found"
	}
	return strings.Join(out, ", ")
}
