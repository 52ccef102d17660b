//go:build integration

package integration_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRegistryConcurrentAttachProcesses: 20 `referee attach` processes,
// started together, each attach a different signed DSSE link (steps
// step-01…step-20, from `referee run`) to the same image. On
// docker-registry every attach is a read-modify-write of the one
// sha256-<hex> index, so writers replace each other's index and referee
// must repair lost updates (docs/format.md, "Writing on registries without
// the referrers API"). Each process must exit 0 and print one digest, all
// 20 distinct; afterwards `referee discover --format json` and `oras
// discover --format json` list exactly those 20, and on docker-registry
// the fallback index holds exactly those 20 entries, none twice. The same
// runs on the embedded registry (referrers API: no shared index).
func TestRegistryConcurrentAttachProcesses(t *testing.T) {
	needOras(t)
	const n = 20
	tmp := t.TempDir()
	key := filepath.Join(tmp, "alice")
	if r := referee(t, tmp, "keygen", "--type", "ed25519", key); r.code != 0 {
		t.Fatalf("referee keygen:\n%s", r)
	}
	links := make([]string, n)
	for i := range links {
		dir := filepath.Join(tmp, fmt.Sprintf("links-%02d", i+1))
		mkdirs(t, dir)
		r := referee(t, tmp, "run", "--step-name", fmt.Sprintf("step-%02d", i+1), "--key", key, "--out", dir,
			"--", "sh", "-c", fmt.Sprintf("echo %d", i+1))
		if r.code != 0 {
			t.Fatalf("referee run:\n%s", r)
		}
		links[i] = strings.TrimSpace(r.stdout)
		if !filepath.IsAbs(links[i]) {
			links[i] = filepath.Join(tmp, links[i])
		}
	}

	onRegistries(t, func(t *testing.T, r reg) {
		ref, digest := pushImage(t, r.host, "concurrent/app")
		type outcome struct {
			code           int
			stdout, stderr string
			took           time.Duration
		}
		outs := make([]outcome, n)
		start := time.Now()
		parallel(n, func(i int) {
			cmd := exec.Command(refereeBin, "attach", ref, links[i])
			var so, se bytes.Buffer
			cmd.Stdout, cmd.Stderr = &so, &se
			t0 := time.Now()
			err := cmd.Run()
			outs[i] = outcome{code: cmd.ProcessState.ExitCode(), stdout: so.String(), stderr: se.String(), took: time.Since(t0)}
			if err != nil && cmd.ProcessState == nil {
				outs[i] = outcome{code: -1, stderr: err.Error()}
			}
		})
		wall := time.Since(start)
		want := map[string]string{}
		var slowest, fastest time.Duration
		for i, o := range outs {
			slowest = max(slowest, o.took)
			if fastest == 0 || o.took < fastest {
				fastest = o.took
			}
			f := strings.Fields(o.stdout)
			if o.code != 0 || len(f) != 1 || !digestRE.MatchString(f[0]) {
				t.Errorf("referee attach %s: exit %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(links[i]), o.code, o.stdout, o.stderr)
				continue
			}
			if _, dup := want[f[0]]; dup {
				t.Errorf("two processes printed %s", f[0])
			}
			want[f[0]] = linkDSSE
		}
		t.Logf("%s: %d concurrent referee attach processes: %s wall, each %s to %s",
			r.kind, n, wall.Round(time.Millisecond), fastest.Round(time.Millisecond), slowest.Round(time.Millisecond))
		if len(want) != n {
			t.Fatalf("%d distinct digests printed, want %d", len(want), n)
		}

		d := refereeDiscover(t, ref)
		if d.Digest != digest {
			t.Errorf("referee discover: digest %s, want %s", d.Digest, digest)
		}
		expectTypes(t, "referee discover", types(t, "referee discover", d.Referrers), want)
		steps := map[string]bool{}
		for _, e := range d.Referrers {
			steps[e.Annotations["dev.referee.in-toto.step"]] = true
		}
		if len(steps) != n {
			t.Errorf("referee discover shows %d distinct steps, want %d", len(steps), n)
		}
		expectTypes(t, "oras discover", types(t, "oras discover", orasDiscover(t, atDigest(ref, digest)).Referrers), want)
		if r.tagSchema() {
			entries, ok := fallbackIndex(t, r.host, "concurrent/app", digest)
			if !ok {
				t.Fatalf("no %s tag", fallbackTag(digest))
			}
			expectTypes(t, "fallback index", types(t, "fallback index", entries), want)
			// Every manifest ever pushed to the repository leaves a revision
			// link in docker-registry's storage: the image, 20 referrers and
			// each version of the fallback index that was written.
			revs, err := os.ReadDir(filepath.Join(r.storage, "docker/registry/v2/repositories/concurrent/app/_manifests/revisions/sha256"))
			if err == nil {
				t.Logf("docker-registry: %d versions of the %s index were written for %d referrers",
					len(revs)-1-n, fallbackTag(digest)[:19], n)
			}
		}
	})
}
