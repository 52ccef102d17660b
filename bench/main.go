// Command bench is the side-by-side benchmark of issue 13: it generates
// the workloads (W1, the engine's; W2, hashing's; chains in a registry one
// round trip away), times referee beside in-toto-golang, the Python
// in-toto reference, openssl and sha256sum, round-robin, several runs
// each, and prints medians, peak RSS and the ratio against each goal as
// Markdown tables for the README.
//
//	go run ./bench                       # everything, 3 runs each (about 5 minutes on 2 cores)
//	go run ./bench --only engine,hash    # some parts
//	go run ./bench --prepare             # only generate the workloads (about 3 minutes, once)
//	go run ./bench --quick --runs 1      # small sizes, for a test
//	go run ./bench --only registry --trace   # and log each registry request
//
// Workloads are cached in --work (default $XDG_CACHE_HOME/referee/bench,
// e.g. ~/.cache/referee/bench), keyed by workloadVersion; their content is
// fixed (keys from fixed seeds, file bytes from fixed generators), so
// every machine and run measures the same bytes. referee is built from the
// working tree into a temporary directory unless --referee names a binary.
// Needs in-toto-golang (v0.11.0, as .ci/run installs it) for W1, and
// in-toto-verify, openssl, sha256sum and xargs for the comparisons; a part
// whose peers are missing is skipped and says why.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// sizes are the workload sizes: the issue's, or --quick's small ones.
type sizes struct {
	w1Files    int // W1's files (the linear check also runs a tenth of them)
	bigFiles   int // W2: files holding bigBytes in all
	bigBytes   int64
	smallFiles int // W2: files of smallSize bytes
	smallSize  int
	links      []int // chain lengths verified from the registry
	largeStep  int   // artifacts in each link of the large-link check
	images     int   // images verified with verify -
	rtt        time.Duration
}

var fullSizes = sizes{w1Files: 100_000, bigFiles: 10_000, bigBytes: 1 << 30, smallFiles: 100_000, smallSize: 1024,
	links: []int{5, 50, 500}, largeStep: 180_000, images: 100, rtt: 20 * time.Millisecond}

var quickSizes = sizes{w1Files: 2_000, bigFiles: 100, bigBytes: 8 << 20, smallFiles: 2_000, smallSize: 1024,
	links: []int{5, 50}, largeStep: 18_000, images: 10, rtt: 20 * time.Millisecond}

// env is what every part of the bench needs.
type env struct {
	runs                                           int
	quick, prepare                                 bool
	sizes                                          sizes
	work, tmp                                      string
	referee, spawn, gostart                        string
	inTotoGolang, inTotoVerify, openssl, sha256sum string
	log                                            func(string)
	trace                                          func(string) // nil unless --trace
}

var parts = []struct {
	name string
	run  func(context.Context, *env) (section, error)
}{
	{"engine", benchEngine},
	{"hash", benchHash},
	{"registry", benchRegistry},
	{"many", benchMany},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// options are the command line's.
type options struct {
	runs                  int
	only                  map[string]bool
	quick, prepare, trace bool
	work, referee         string
	rtt                   time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 3, "runs of each program (round-robin); the median is printed")
	only := fs.String("only", "engine,hash,registry,many", "comma-separated parts to run: engine, hash, registry, many")
	fs.BoolVar(&o.quick, "quick", false, "small workloads (seconds, for a test); the goals are for the full sizes")
	fs.StringVar(&o.work, "work", defaultWork(), "directory where generated workloads are cached between runs")
	fs.StringVar(&o.referee, "referee", "", "referee binary to measure (default: build this module into a temporary directory)")
	fs.BoolVar(&o.trace, "trace", false, "log every request the latency proxy passes on (to stderr, with the time)")
	fs.BoolVar(&o.prepare, "prepare", false, "only generate the workloads into --work (engine, hash), measure nothing")
	fs.DurationVar(&o.rtt, "rtt", 20*time.Millisecond, "round-trip time the latency proxy adds to each registry request")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.runs < 1 {
		return o, fmt.Errorf("--runs must be at least 1")
	}
	o.only = map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		p = strings.TrimSpace(p)
		known := false
		for _, q := range parts {
			known = known || q.name == p
		}
		if !known {
			return o, fmt.Errorf("--only: unknown part %q (engine, hash, registry, many)", p)
		}
		o.only[p] = true
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "referee-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	e, commit, err := setup(ctx, o, tmp, stderr)
	if err != nil {
		return err
	}
	if err := writeHeader(ctx, stdout, e, o, commit); err != nil {
		return err
	}
	var goals []goal
	for _, p := range parts {
		if !o.only[p.name] || o.prepare && (p.name == "registry" || p.name == "many") {
			continue
		}
		e.log("part " + p.name)
		sec, err := p.run(ctx, e)
		var m missingPeer
		if errors.As(err, &m) {
			sec = section{title: sec.title, notes: []string{"Skipped: " + m.why + "."}}
			sec.goals = []goal{{name: p.name, target: "–", measured: "skipped (a peer is missing: see its section)"}}
		} else if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		sec.write(stdout)
		goals = append(goals, sec.goals...)
	}
	if o.prepare {
		return nil
	}
	writeSummary(stdout, goals)
	fmt.Fprintf(stdout, "Load after: %s\n", uptime())
	return nil
}

// setup builds referee (unless --referee names one), bench/spawn and bench/gostart into
// tmp and finds the peers. commit describes the referee built.
func setup(ctx context.Context, o options, tmp string, stderr io.Writer) (e *env, commit string, err error) {
	e = &env{runs: o.runs, quick: o.quick, prepare: o.prepare, sizes: fullSizes, work: o.work, tmp: tmp,
		log: func(s string) { fmt.Fprintf(stderr, "[%s] %s\n", time.Now().Format("15:04:05"), s) }}
	if o.quick {
		e.sizes = quickSizes
	}
	e.sizes.rtt = o.rtt
	if o.trace {
		e.trace = func(s string) { fmt.Fprintf(stderr, "[%s] %s\n", time.Now().Format("15:04:05.000"), s) }
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, "", err
	}
	if o.referee != "" {
		e.referee = o.referee
	} else if !o.prepare {
		e.log("building referee")
		e.referee = filepath.Join(tmp, "referee")
		if err := goBuild(ctx, root, ".", e.referee); err != nil {
			return nil, "", err
		}
		commit = gitDescribe(root)
	}
	e.spawn, e.gostart = filepath.Join(tmp, "spawn"), filepath.Join(tmp, "gostart")
	for pkg, out := range map[string]string{"./bench/spawn": e.spawn, "./bench/gostart": e.gostart} {
		if err := goBuild(ctx, root, pkg, out); err != nil {
			return nil, "", err
		}
	}
	e.inTotoGolang, e.inTotoVerify = lookTool("in-toto-golang"), lookTool("in-toto-verify")
	e.openssl, e.sha256sum = lookTool("openssl"), lookTool("sha256sum")
	return e, commit, nil
}

// writeHeader states when, where and with what the bench ran, and the
// floor of its peak RSS figures.
func writeHeader(ctx context.Context, w io.Writer, e *env, o options, commit string) error {
	fmt.Fprintf(w, "## referee bench (issue 13)\n\n")
	built := ""
	if o.referee == "" && !o.prepare {
		built = " (built as released: CGO_ENABLED=0, -trimpath, -ldflags=-s -w)"
	}
	fmt.Fprintf(w, "%s; %d CPUs, %s, %s; referee %s%s; load before: %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH, runtime.Version(), orDash(commit), built, uptime())
	fmt.Fprintf(w, "Peers: %s.\n\n", peerVersions(ctx, e))
	if !o.prepare {
		floor, err := roundRobin(ctx, e.spawn, 3, []contender{{name: "true", cmd: func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, "true") }}}, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Every program runs as a child of bench/spawn, which times it and reads its peak RSS from its rusage (maxrss; `true` shows %s, the floor).\n\n", fmtMiB(floor[0].medianRSS()))
	}
	if o.quick {
		fmt.Fprintf(w, "**--quick: small workloads; the goals are for the full sizes.**\n\n")
	}
	return nil
}

// uptime is the load line of uptime(1), for stating the load with the
// figures.
func uptime() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "(uptime: " + err.Error() + ")"
	}
	return "`" + strings.TrimSpace(string(out)) + "`"
}

func gitDescribe(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
