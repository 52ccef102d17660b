package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/internal/testenv"
)

// writeOwnerKey writes the chains' owner public key (PEM) to e.tmp.
func writeOwnerKey(e *env, k *chainKeys) (string, error) {
	p := filepath.Join(e.tmp, "chain-owner.pub")
	pub, err := attest.ExportPublicKey(k.owner.Key(), attest.ExportPEM)
	if err != nil {
		return "", err
	}
	return p, os.WriteFile(p, pub, 0o644)
}

// counting has a contender's runs count the requests the proxy saw.
func counting(c contender, p *testenv.DelayHandler) contender {
	c.proxy = p
	return c
}

// startRemote starts what goals 3 and 4 share: the registry rtt away,
// the chains' keys, and their owner's public key file.
func startRemote(e *env) (*slowRegistry, *chainKeys, string, error) {
	reg, err := startRegistry(e.sizes.rtt, e.trace)
	if err != nil {
		return nil, nil, "", err
	}
	keys, err := newChainKeys()
	if err == nil {
		var owner string
		if owner, err = writeOwnerKey(e, keys); err == nil {
			return reg, keys, owner, nil
		}
	}
	reg.close()
	return nil, nil, "", err
}

// benchRegistry is goal 3: `referee verify IMAGE` (by digest) against a
// registry one round trip away, for chains of 5, 50 and 500 links.
func benchRegistry(ctx context.Context, e *env) (section, error) {
	rtt := e.sizes.rtt
	sec := section{title: fmt.Sprintf("3. From the registry: `referee verify IMAGE`, %s away", rtt)}
	reg, keys, owner, err := startRemote(e)
	if err != nil {
		return sec, err
	}
	defer reg.close()
	cs := []contender{{name: "process start", cmd: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, e.referee, "version")
	}}, {name: "Go process start", cmd: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, e.gostart)
	}}}
	var floors []floor // of each chain, as its contender follows the two above
	for _, n := range e.sizes.links {
		repo := fmt.Sprintf("bench/links%d", n)
		digest, _, err := pushChain(ctx, reg.direct, repo, n, 3, keys)
		if err != nil {
			return sec, err
		}
		f, err := measureFloor(ctx, reg, repo, digest, n+1, max(e.runs, 5))
		if err != nil {
			return sec, err
		}
		floors = append(floors, f)
		image := reg.slow + "/" + repo + "@" + digest
		cs = append(cs, counting(contender{name: fmt.Sprint(n), cmd: func(ctx context.Context) *exec.Cmd {
			return exec.CommandContext(ctx, e.referee, "verify", "--quiet", "--layout-key", owner, image)
		}}, reg.proxy))
	}
	e.log(fmt.Sprintf("chains of %v links pushed", e.sizes.links))
	res, err := roundRobin(ctx, e.spawn, e.runs, cs, e.log)
	if err != nil {
		return sec, err
	}
	start, goStart := res[0].medianWall(), res[1].medianWall()
	sec.notes = []string{
		fmt.Sprintf("referee's embedded registry (in memory) behind a proxy in the bench that delays every request by %s (new connections are not delayed); the image named by digest, a fresh process each run, the layout and links attached by the library (`oci.Attach`). Round trips = wall / %s. `referee version` (process start, no registry) takes %s = %.2f round trips of that. Median of %d runs, round-robin.",
			rtt, rtt, fmtDur(start), float64(start)/float64(rtt), e.runs),
	}
	sec.notes = append(sec.notes, "", fmt.Sprintf("The floor is what no verifier of the same evidence can skip here: a Go process starting (a program that does nothing: %s; referee's own start is the %s above, its packages' initialisation), one round trip and the registry's answer to the listing (a GET of it without the delay), decoding that answer once (warm, with json/v1 of go-json-experiment, the fastest decoder we know that keeps encoding/json's semantics), and one Ed25519 check per document (the layout and a link per step) on %d cores; it leaves out reading the envelopes, the links and the layout, and the rules.", fmtDur(goStart), fmtDur(start), runtime.GOMAXPROCS(0)))
	sec.head = []string{"links", "wall (min–max)", "requests", "most at once", "round trips", "round trips less process start", "floor: listing + decoding + signatures", "floor (round trips)"}
	for i, r := range res[2:] {
		lo, hi := r.wallRange()
		rt := float64(r.medianWall()) / float64(rtt)
		f := floors[i]
		low := float64(f.total(goStart, rtt)) / float64(rtt)
		sec.rows = append(sec.rows, []string{r.name,
			fmt.Sprintf("%s (%s–%s)", fmtDur(r.medianWall()), fmtDur(lo), fmtDur(hi)),
			fmt.Sprint(r.medianRequests()), fmt.Sprint(r.medianInflight()), fmt.Sprintf("%.2f", rt), fmt.Sprintf("%.2f", float64(r.medianWall()-start)/float64(rtt)),
			fmt.Sprintf("%s + %s + %s", fmtDur(f.listing), fmtDur(f.decode), fmtDur(f.sigs)), fmt.Sprintf("%.2f", low)})
		g := goal{name: "3 registry, " + r.name + " links", target: "≤ 2.5 round trips", measured: fmt.Sprintf("%.2f", rt), met: rt <= 2.5}
		if !g.met {
			g.measured += fmt.Sprintf(" (floor %.2f)", low)
		}
		sec.goals = append(sec.goals, g)
	}
	g, note, err := largeLinks(ctx, e, reg, keys, owner)
	if err != nil {
		return sec, err
	}
	sec.notes = append(sec.notes, "", note)
	sec.goals = append(sec.goals, g)
	return sec, nil
}

// largeLinks is the last check of goal 3: a chain whose two links record
// e.sizes.largeStep artifacts each (180,000: about 20 MB a link) verifies
// from the registry with referee's default limits, or the refusal names
// the flag that raises the limit.
func largeLinks(ctx context.Context, e *env, reg *slowRegistry, keys *chainKeys, owner string) (goal, string, error) {
	n := e.sizes.largeStep
	digest, size, err := pushChain(ctx, reg.direct, "bench/large", 2, n, keys)
	if err != nil {
		return goal{}, "", err
	}
	before := reg.proxy.Requests.Load()
	start := time.Now()
	out, err := exec.CommandContext(ctx, e.referee, "verify", "--layout-key", owner, reg.slow+"/bench/large@"+digest).CombinedOutput()
	wall := time.Since(start)
	requests := reg.proxy.Requests.Load() - before
	g := goal{name: "3 registry, links of " + commas(int64(n)) + " artifacts", target: "verified with the default limits, or the refusal names the flag"}
	var quote string
	switch {
	case err == nil:
		g.measured, g.met = "verified", true
	default:
		for _, flag := range []string{"--max-blob-size", "--max-manifest-size"} {
			if l := lineWith(string(out), flag); l != "" {
				g.measured, g.met, quote = "refused; the message names "+flag, true, l
				break
			}
		}
		if !g.met {
			g.measured, quote = fmt.Sprintf("failed (%v)", err), oneLine(string(out))
		}
	}
	e.log(fmt.Sprintf("links of %d artifacts: %s in %s", n, g.measured, fmtDur(wall)))
	note := fmt.Sprintf("Two links of %s artifacts each (DSSE, %s each), default limits: %s, in %s (%.1f round trips, one run, %d requests).",
		commas(int64(n)), fmtBytes(int64(size)), g.measured, fmtDur(wall), float64(wall)/float64(e.sizes.rtt), requests)
	if quote != "" {
		note += " It said: `" + quote + "`"
	}
	return g, note, nil
}

// lineWith is the first line of s that contains sub, trimmed, or "".
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return tail(strings.TrimSpace(l), 300)
		}
	}
	return ""
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	return tail(s, 300)
}

// benchMany is goal 4: `referee verify -` of many images (by digest, on
// stdin), at the default --parallel and one at a time.
func benchMany(ctx context.Context, e *env) (section, error) {
	rtt, count := e.sizes.rtt, e.sizes.images
	sec := section{title: fmt.Sprintf("4. Many images: `referee verify -` of %d images, %s away", count, rtt)}
	reg, keys, owner, err := startRemote(e)
	if err != nil {
		return sec, err
	}
	defer reg.close()
	digests, err := pushImages(ctx, reg.direct, "bench/many", count, keys)
	if err != nil {
		return sec, err
	}
	var refs strings.Builder
	for _, d := range digests {
		fmt.Fprintf(&refs, "%s/bench/many@%s\n", reg.slow, d)
	}
	e.log(fmt.Sprintf("%d images pushed", count))
	verify := func(name string, flags ...string) contender {
		return counting(contender{name: name, cmd: func(ctx context.Context) *exec.Cmd {
			args := append([]string{"verify", "--quiet", "--layout-key", owner}, flags...)
			cmd := exec.CommandContext(ctx, e.referee, append(args, "-")...)
			cmd.Stdin = strings.NewReader(refs.String())
			return cmd
		}}, reg.proxy)
	}
	res, err := roundRobin(ctx, e.spawn, e.runs, []contender{verify("--parallel 1", "--parallel", "1"), verify("default --parallel" + defaultParallel(ctx, e.referee))}, e.log)
	if err != nil {
		return sec, err
	}
	one, def := res[0], res[1]
	sec.notes = []string{
		fmt.Sprintf("Each image has a layout and three links (build, scan, push; push binds the image); the same registry and proxy as in 3. Median of %d runs, round-robin.", e.runs),
	}
	sec.head = []string{"", "wall (min–max)", "requests", "most at once", "images/s", "speed-up"}
	for _, r := range res {
		lo, hi := r.wallRange()
		sec.rows = append(sec.rows, []string{"`verify -` " + r.name,
			fmt.Sprintf("%s (%s–%s)", fmtDur(r.medianWall()), fmtDur(lo), fmtDur(hi)),
			fmt.Sprint(r.medianRequests()), fmt.Sprint(r.medianInflight()),
			fmt.Sprintf("%.1f", float64(count)/r.medianWall().Seconds()),
			fmtX(ratio(one.medianWall(), r.medianWall()))})
	}
	x := ratio(one.medianWall(), def.medianWall())
	sec.goals = []goal{{name: fmt.Sprintf("4 many images (%d)", count), target: "≥ 20x one at a time", measured: fmtX(x), met: x >= 20}}
	return sec, nil
}

// defaultParallel is " (N)" for the default of referee verify --parallel
// as its help states it, or "" if the help does not say.
func defaultParallel(ctx context.Context, referee string) string {
	out, _ := exec.CommandContext(ctx, referee, "verify", "--help").CombinedOutput()
	if m := regexp.MustCompile(`--parallel[^\n]*\(default: (\d+)\)`).FindSubmatch(out); m != nil {
		return " (" + string(m[1]) + ")"
	}
	return ""
}
