//go:build integration

package integration_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/internal/testenv"
)

// TestRegistryFaults: 20 `referee attach` processes at once (a layout and
// 19 links, one file each) onto docker-registry (CNCF distribution 2.8,
// referrers tag schema: one shared sha256-<hex> index) through a proxy
// that fails a tenth of the requests — half 503 with Retry-After: 0, half
// cut connections, before or after the registry saw them
// (testenv.FaultProxy). Every attach exits 0 and prints one digest, all
// distinct; the index, read straight from the registry once all have
// returned, holds exactly those 20 entries, none twice. Then `referee
// verify` and `referee promote` (to another repository, with a signed
// summary) through the same faults succeed, and the promoted copy lists
// the 20 and the summary and verifies by it.
func TestRegistryFaults(t *testing.T) {
	needCrane(t)
	const n = 20
	seed := uint64(time.Now().UnixNano())
	start := time.Now()
	tmp := t.TempDir()
	key := func(name string) string { return filepath.Join(tmp, name) }
	for _, k := range []string{"owner", "alice", "promoter"} {
		if r := referee(t, tmp, "keygen", "--type", "ed25519", key(k)); r.code != 0 {
			t.Fatalf("referee keygen:\n%s", r)
		}
	}
	host, _ := dockerRegistry(t)
	_, digest := pushImage(t, host, "faults/app")
	// The last step's link binds the image; it is made (and attached)
	// beside, in another repository holding the same image.
	must(t, tmp, needCrane(t), "copy", "--insecure", host+"/faults/app@"+digest, host+"/faults/bind:v1")

	spec := specYAML{Functionaries: map[string]string{"alice": key("alice.pub")}}
	files := make([]string, n)
	linkDir := filepath.Join(tmp, "links")
	for i := 1; i < n; i++ {
		step := fmt.Sprintf("step-%02d", i)
		st := specStep{Name: step, Functionaries: []string{"alice"}}
		args := []string{"run", "--step-name", step, "--key", key("alice"), "--out", linkDir}
		if i == n-1 {
			st.Products = []string{"CREATE referee:image-manifest", "DISALLOW *"}
			args = append(args, "--attach", host+"/faults/bind@"+digest, "--bind-image")
		}
		spec.Steps = append(spec.Steps, st)
		r := referee(t, tmp, append(args, "--", "sh", "-c", fmt.Sprintf("echo %d", i))...)
		if r.code != 0 {
			t.Fatalf("referee run:\n%s", r)
		}
	}
	links := linkFiles(t, linkDir)
	if len(links) != n-1 {
		t.Fatalf("%d links made, want %d", len(links), n-1)
	}
	copy(files[1:], links)
	files[0] = filepath.Join(tmp, "root.layout")
	createLayout(t, tmp, "layout", spec, files[0], false, key("owner"))

	proxy := testenv.NewFaultProxy(t, host, 0.1, seed)
	ref := proxy.Host + "/faults/app@" + digest

	type outcome struct {
		code           int
		stdout, stderr string
	}
	outs := make([]outcome, n)
	t0 := time.Now()
	parallel(n, func(i int) {
		cmd := exec.Command(refereeBin, "attach", ref, files[i])
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		outs[i] = outcome{code: cmd.ProcessState.ExitCode(), stdout: so.String(), stderr: se.String()}
		if err != nil && cmd.ProcessState == nil {
			outs[i] = outcome{code: -1, stderr: err.Error()}
		}
	})
	attachWall := time.Since(t0)
	printed := map[string]bool{}
	for i, o := range outs {
		f := strings.Fields(o.stdout)
		if o.code != 0 || len(f) != 1 || !digestRE.MatchString(f[0]) {
			t.Errorf("referee attach %s: exit %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(files[i]), o.code, o.stdout, o.stderr)
			continue
		}
		if printed[f[0]] {
			t.Errorf("two attaches printed %s", f[0])
		}
		printed[f[0]] = true
	}
	attachFaults := proxy.Counts()
	if t.Failed() {
		t.Fatalf("seed %d; proxy %+v", seed, attachFaults)
	}
	entries, ok := fallbackIndex(t, host, "faults/app", digest)
	if !ok {
		t.Fatalf("no %s tag", fallbackTag(digest))
	}
	listed := map[string]int{}
	for _, e := range entries {
		listed[e.Digest]++
	}
	for d, c := range listed {
		if c > 1 {
			t.Errorf("%s is listed %d times", d, c)
		}
		if !printed[d] {
			t.Errorf("%s is listed but no attach printed it", d)
		}
	}
	for d := range printed {
		if listed[d] == 0 {
			t.Errorf("%s was attached but is not in the index: lost", d)
		}
	}
	if len(entries) != n {
		t.Errorf("the index holds %d entries, want %d", len(entries), n)
	}

	if r := referee(t, tmp, "verify", ref, "--layout-key", key("owner.pub")); r.code != 0 {
		t.Fatalf("referee verify through faults:\n%s\nproxy %+v", r, proxy.Counts())
	}
	prod := proxy.Host + "/faults/prod:v1"
	r := referee(t, tmp, "promote", ref, prod, "--layout-key", key("owner.pub"), "--key", key("promoter"))
	if r.code != 0 || strings.TrimSpace(r.stdout) != digest {
		t.Fatalf("referee promote through faults: want %s\n%s\nproxy %+v", digest, r, proxy.Counts())
	}
	promoted, ok := fallbackIndex(t, host, "faults/prod", digest)
	if !ok {
		t.Fatalf("no %s tag in the promoted repository", fallbackTag(digest))
	}
	copied := 0
	for _, e := range promoted {
		if printed[e.Digest] {
			copied++
		}
	}
	if copied != n || len(promoted) != n+1 {
		t.Errorf("the promoted index holds %d entries, %d of the %d attached (want them and the summary)", len(promoted), copied, n)
	}
	if r := referee(t, tmp, "verify", proxy.Host+"/faults/prod@"+digest, "--vsa-key", key("promoter.pub")); r.code != 0 {
		t.Errorf("referee verify --vsa-key of the promoted copy through faults:\n%s", r)
	}
	c := proxy.Counts()
	t.Logf("seed %d: %d attaches in %s (%d faults in %d requests: %d answered 503, %d cut before and %d after reaching the registry, %d of them applied writes); with verify and promote %d faults in %d requests; %s in all",
		seed, n, attachWall.Round(time.Millisecond), attachFaults.Faults(), attachFaults.Requests, attachFaults.Unavailable, attachFaults.CutBefore,
		attachFaults.CutAfter, attachFaults.CutAfterWrites, c.Faults(), c.Requests, time.Since(start).Round(time.Millisecond))
}
