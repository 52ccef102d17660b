package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/referee-dev/referee/internal/testenv"
)

// contender is one program timed beside the others: cmd makes a fresh
// command for each run (an exec.Cmd runs once).
type contender struct {
	name string
	cmd  func(ctx context.Context) *exec.Cmd
	// setup, if set, runs before each run, untimed (e.g. removing the
	// previous run's output).
	setup func() error
	// proxy, if set, is the latency proxy the program goes through: its
	// requests and the most in flight at once are counted for each run.
	proxy *testenv.DelayHandler
}

// sample is one run of a contender: its wall time, CPU time and the peak
// resident set size of the process (the largest of it and the children it
// waited for, as wait4 reports it), and, for registry runs, the requests
// the latency proxy counted and the most in flight at once.
type sample struct {
	wall, cpu          time.Duration // cpu: user and system time
	rssKiB             int64
	requests, inflight int64
}

// result is every run of one contender, in order.
type result struct {
	name    string
	samples []sample
}

func (r result) medianWall() time.Duration {
	return median(r.samples, func(s sample) time.Duration { return s.wall })
}

func (r result) medianCPU() time.Duration {
	return median(r.samples, func(s sample) time.Duration { return s.cpu })
}

func (r result) medianRSS() int64 {
	return median(r.samples, func(s sample) int64 { return s.rssKiB })
}

func (r result) medianRequests() int64 {
	return median(r.samples, func(s sample) int64 { return s.requests })
}

func (r result) medianInflight() int64 {
	return median(r.samples, func(s sample) int64 { return s.inflight })
}

func (r result) wallRange() (time.Duration, time.Duration) {
	lo, hi := r.samples[0].wall, r.samples[0].wall
	for _, s := range r.samples {
		lo, hi = min(lo, s.wall), max(hi, s.wall)
	}
	return lo, hi
}

// median of f over samples: the middle one, or the mean of the two middle
// ones for an even count.
func median[T int64 | time.Duration](samples []sample, f func(sample) T) T {
	v := make([]T, len(samples))
	for i, s := range samples {
		v[i] = f(s)
	}
	slices.Sort(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// runOnce runs c once through spawn (see bench/spawn), fails unless it
// exits 0, and measures it: wall time and peak RSS as spawn reports them.
func runOnce(ctx context.Context, spawn string, c contender) (sample, error) {
	if c.setup != nil {
		if err := c.setup(); err != nil {
			return sample{}, fmt.Errorf("%s: preparing the run: %w", c.name, err)
		}
	}
	inner := c.cmd(ctx)
	if inner.Err != nil {
		return sample{}, fmt.Errorf("%s: %w", c.name, inner.Err)
	}
	cmd := exec.CommandContext(ctx, spawn, append([]string{inner.Path}, inner.Args[1:]...)...)
	cmd.Dir, cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = inner.Dir, inner.Env, inner.Stdin, inner.Stdout, inner.Stderr
	var out bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &out
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return sample{}, err
	}
	defer pr.Close()
	cmd.ExtraFiles = []*os.File{pw}
	var before int64
	if c.proxy != nil {
		before = c.proxy.Requests.Load()
		c.proxy.Peak.Store(0)
	}
	err = cmd.Start()
	pw.Close()
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %s: %w\n%s", c.name, strings.Join(inner.Args, " "), err, tail(out.String(), 2000))
	}
	var s sample
	var wallNS, cpuNS int64
	if _, err := fmt.Fscan(pr, &wallNS, &s.rssKiB, &cpuNS); err != nil {
		return sample{}, fmt.Errorf("%s: reading what spawn measured: %w", c.name, err)
	}
	s.wall, s.cpu = time.Duration(wallNS), time.Duration(cpuNS)
	if c.proxy != nil {
		s.requests, s.inflight = c.proxy.Requests.Load()-before, c.proxy.Peak.Load()
	}
	return s, nil
}

// roundRobin runs every contender once per round, runs rounds, so that a
// change in the machine's load falls on all of them alike; round r starts
// with contender r (mod their number), so that none always follows the
// same one. progress, if set, hears of each run.
func roundRobin(ctx context.Context, spawn string, runs int, cs []contender, progress func(string)) ([]result, error) {
	res := make([]result, len(cs))
	for i, c := range cs {
		res[i].name = c.name
	}
	for r := 0; r < runs; r++ {
		for k := range cs {
			i := (k + r) % len(cs)
			s, err := runOnce(ctx, spawn, cs[i])
			if err != nil {
				return nil, err
			}
			res[i].samples = append(res[i].samples, s)
			if progress != nil {
				progress(fmt.Sprintf("run %d/%d %s: %s, CPU %s, %s", r+1, runs, cs[i].name, fmtDur(s.wall), fmtDur(s.cpu), fmtMiB(s.rssKiB)))
			}
		}
	}
	return res, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// missingPeer is why a part cannot run here: a peer it needs is not
// installed. The bench says so in that part's section and goes on.
type missingPeer struct{ why string }

func (m missingPeer) Error() string { return m.why }

func missing(why string) error { return missingPeer{why} }
