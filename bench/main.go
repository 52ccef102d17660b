// Command bench is the side-by-side benchmark of issue 13: it generates
// the workloads (W1, the engine's; W2, hashing's; chains in a registry one
// round trip away), times referee beside in-toto-golang, the Python
// in-toto reference, openssl and sha256sum, round-robin, several runs
// each, and prints medians, peak RSS and the ratio against each goal as
// Markdown tables for the README.
//
//	go run ./bench                       # everything, 3 runs each
//	go run ./bench --only engine,hash    # some parts
//	go run ./bench --quick --runs 1      # small sizes, for a test
//
// Workloads are cached in --work (default $XDG_CACHE_HOME/referee/bench,
// e.g. ~/.cache/referee/bench), keyed by workloadVersion; their content is
// fixed, so every machine and run measures the same bytes.
package main

import (
	"context"
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
	referee, spawn                                 string
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 3, "runs of each program (round-robin); the median is printed")
	only := fs.String("only", "engine,hash,registry,many", "comma-separated parts to run: engine, hash, registry, many")
	quick := fs.Bool("quick", false, "small workloads (seconds, for a test); the goals are for the full sizes")
	work := fs.String("work", defaultWork(), "directory where generated workloads are cached between runs")
	referee := fs.String("referee", "", "referee binary to measure (default: build this module into a temporary directory)")
	trace := fs.Bool("trace", false, "log every request the latency proxy passes on (to stderr, with the time)")
	prepare := fs.Bool("prepare", false, "only generate the workloads into --work (engine, hash), measure nothing")
	rtt := fs.Duration("rtt", 20*time.Millisecond, "round-trip time the latency proxy adds to each registry request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *runs < 1 {
		return fmt.Errorf("--runs must be at least 1")
	}
	want := map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		p = strings.TrimSpace(p)
		known := false
		for _, q := range parts {
			known = known || q.name == p
		}
		if !known {
			return fmt.Errorf("--only: unknown part %q (engine, hash, registry, many)", p)
		}
		want[p] = true
	}

	e := &env{runs: *runs, quick: *quick, prepare: *prepare, sizes: fullSizes, work: *work,
		log: func(s string) { fmt.Fprintf(stderr, "[%s] %s\n", time.Now().Format("15:04:05"), s) }}
	if *quick {
		e.sizes = quickSizes
	}
	if *trace {
		e.trace = func(s string) { fmt.Fprintf(stderr, "[%s] %s\n", time.Now().Format("15:04:05.000"), s) }
	}
	e.sizes.rtt = *rtt
	tmp, err := os.MkdirTemp("", "referee-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	e.tmp = tmp
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	commit := ""
	if *referee != "" {
		e.referee = *referee
	} else if !*prepare {
		e.log("building referee")
		e.referee = filepath.Join(tmp, "referee")
		if err := goBuild(ctx, root, ".", e.referee); err != nil {
			return err
		}
		commit = gitDescribe(root)
	}
	e.spawn = filepath.Join(tmp, "spawn")
	if err := goBuild(ctx, root, "./bench/spawn", e.spawn); err != nil {
		return err
	}
	e.inTotoGolang, e.inTotoVerify = lookTool("in-toto-golang"), lookTool("in-toto-verify")
	e.openssl, e.sha256sum = lookTool("openssl"), lookTool("sha256sum")

	fmt.Fprintf(stdout, "## referee bench (issue 13)\n\n")
	fmt.Fprintf(stdout, "%s; %d CPUs, %s, %s; referee %s; load before: %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH, runtime.Version(), orDash(commit), uptime())
	fmt.Fprintf(stdout, "Peers: %s.\n\n", peerVersions(ctx, e))
	if !*prepare {
		floor, err := roundRobin(ctx, e.spawn, 3, []contender{{name: "true", cmd: func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, "true") }}}, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Every program runs as a child of bench/spawn, which times it and reads its peak RSS from its rusage (maxrss; `true` shows %s, the floor).\n\n", fmtMiB(floor[0].medianRSS()))
	}
	if *quick {
		fmt.Fprintf(stdout, "**--quick: small workloads; the goals are for the full sizes.**\n\n")
	}
	var goals []goal
	for _, p := range parts {
		if !want[p.name] || *prepare && (p.name == "registry" || p.name == "many") {
			continue
		}
		e.log("part " + p.name)
		sec, err := p.run(ctx, e)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		sec.write(stdout)
		goals = append(goals, sec.goals...)
	}
	if *prepare {
		return nil
	}
	writeSummary(stdout, goals)
	fmt.Fprintf(stdout, "Load after: %s\n", uptime())
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
