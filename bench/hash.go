package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// W2 is the hashing workload of issue 13: files of fixed pseudo-random
// bytes in data/dNNN/fNNNNNN (100 a directory), either few and large
// (1 GiB in 10,000 files) or many and small (100,000 of 1 KiB).
func makeW2(dir string, files int, total int64) error {
	seed := [32]byte{}
	copy(seed[:], fmt.Sprintf("referee bench W2 %d %d", files, total))
	r := rand.NewChaCha8(seed)
	each, extra := total/int64(files), total%int64(files)
	buf := make([]byte, each+1)
	for i := 0; i < files; i++ {
		p := filepath.Join(dir, "data", fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%06d", i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
		}
		n := each
		if int64(i) < extra {
			n++
		}
		b := buf[:n]
		_, _ = r.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// w2Files lists the files of the W2 in dir, relative to dir/data.
func w2Files(dir string) ([]string, error) {
	var out []string
	root := filepath.Join(dir, "data")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		out = append(out, rel)
		return err
	})
	return out, err
}

// benchHash is goal 2: referee run recording the products of a step that
// does nothing (`-- true`) over W2, beside openssl dgst -sha256 and
// sha256sum hashing the same files in two processes at once (xargs -P2,
// half of the files each).
func benchHash(ctx context.Context, e *env) (section, error) {
	sec := section{title: "2. Hashing: `referee run` over W2"}
	if e.openssl == "" || e.sha256sum == "" {
		return sec, missing("openssl and sha256sum are needed (Debian packages openssl, coreutils)")
	}
	xargs := lookTool("xargs")
	if xargs == "" {
		return sec, missing("xargs is needed (Debian package findutils)")
	}
	keys := filepath.Join(e.tmp, "keys")
	if err := os.MkdirAll(keys, 0o755); err != nil {
		return sec, err
	}
	hasher, err := benchKey("hasher")
	if err != nil {
		return sec, err
	}
	if err := writeKeyFiles(keys, "hasher", hasher); err != nil {
		return sec, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return sec, err
	}
	defer devnull.Close()

	type workload struct {
		label, name string
		files       int
		total       int64
		// goal: referee's speed over the peer named vs's at least min
		vs  string
		min float64
	}
	s := e.sizes
	loads := []workload{
		{fmt.Sprintf("%s in %s files", fmtBytes(s.bigBytes), commas(int64(s.bigFiles))), fmt.Sprintf("w2-%d-%d", s.bigFiles, s.bigBytes), s.bigFiles, s.bigBytes, "openssl", 0.95},
		{fmt.Sprintf("%s files of %s", commas(int64(s.smallFiles)), fmtBytes(int64(s.smallSize))), fmt.Sprintf("w2-%d-%d", s.smallFiles, int64(s.smallFiles*s.smallSize)), s.smallFiles, int64(s.smallFiles * s.smallSize), "sha256sum", 1.0},
	}
	sec.head = []string{"W2", "program", "wall (min–max)", "CPU", "MB/s", "files/s", "peak RSS", "referee's speed vs it"}
	for _, w := range loads {
		dir, reused, err := cachedDir(e.work, w.name, func(dir string) error {
			e.log(fmt.Sprintf("generating W2 %s in %s (once)", w.label, dir))
			return makeW2(dir, w.files, w.total)
		})
		if err != nil {
			return sec, err
		}
		if e.prepare {
			continue
		}
		files, err := w2Files(dir)
		if err != nil {
			return sec, err
		}
		n, size, err := warm(filepath.Join(dir, "data"))
		if err != nil {
			return sec, err
		}
		how := map[bool]string{true: "reused", false: "generated"}[reused]
		e.log(fmt.Sprintf("W2 %s (%s): page cache warmed, %d files, %s read", w.label, how, n, fmtBytes(size)))
		var list bytes.Buffer
		for _, f := range files {
			list.WriteString(f)
			list.WriteByte(0)
		}
		half := strconv.Itoa((len(files) + 1) / 2)
		peer := func(name string, args ...string) contender {
			return contender{name: name, cmd: func(ctx context.Context) *exec.Cmd {
				// two processes at once, each given half of the files
				cmd := exec.CommandContext(ctx, xargs, append([]string{"-0", "-P2", "-n", half, "-s", "2000000"}, args...)...)
				cmd.Dir = filepath.Join(dir, "data")
				cmd.Stdin = bytes.NewReader(list.Bytes())
				cmd.Stdout = devnull
				return cmd
			}}
		}
		out := filepath.Join(e.tmp, "links-"+w.name)
		cs := []contender{
			peer("openssl", e.openssl, "dgst", "-sha256"),
			peer("sha256sum", e.sha256sum),
			{name: "referee", setup: func() error {
				if err := os.RemoveAll(out); err != nil {
					return err
				}
				return os.MkdirAll(out, 0o755)
			}, cmd: func(ctx context.Context) *exec.Cmd {
				cmd := exec.CommandContext(ctx, e.referee, "run", "--quiet", "--step-name", "hash", "--key", filepath.Join(keys, "hasher"),
					"--out", out, "--products", "data", "--", "true")
				cmd.Dir = dir
				return cmd
			}},
		}
		res, err := roundRobin(ctx, e.spawn, e.runs, cs, e.log)
		if err != nil {
			return sec, err
		}
		ref := res[len(res)-1]
		labels := map[string]string{
			"openssl":   "`openssl dgst -sha256`, 2 processes",
			"sha256sum": "`sha256sum`, 2 processes",
			"referee":   "referee `run --products data -- true`",
		}
		label := w.label
		for _, r := range res {
			lo, hi := r.wallRange()
			sec.rows = append(sec.rows, []string{label, labels[r.name],
				fmt.Sprintf("%s (%s–%s)", fmtDur(r.medianWall()), fmtDur(lo), fmtDur(hi)),
				fmtDur(r.medianCPU()),
				fmt.Sprintf("%.0f", float64(size)/1e6/r.medianWall().Seconds()),
				commas(int64(float64(n) / r.medianWall().Seconds())),
				fmtMiB(r.medianRSS()),
				fmtX(ratio(r.medianWall(), ref.medianWall()))})
			label = ""
			if r.name == w.vs {
				x := ratio(r.medianWall(), ref.medianWall())
				sec.goals = append(sec.goals, goal{name: "2 hashing " + w.label, target: fmt.Sprintf("≥ %s %s's speed", fmtX(w.min), w.vs),
					measured: fmtX(x), met: x >= w.min})
			}
		}
	}
	if e.prepare {
		sec.head, sec.notes = nil, []string{"W2 prepared in " + e.work}
		return sec, nil
	}
	sec.notes = []string{
		fmt.Sprintf("Page cache warmed first (every file read once). Speed ratio = the peer's wall / referee's. Peers run as `xargs -0 -P2 -n HALF TOOL`: two processes at once, half the files each (peak RSS: the largest process). referee's wall includes signing and writing the link. CPU = user + system time (of every process). Median of %d runs, round-robin.", e.runs),
	}
	return sec, nil
}
