package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// benchEngine is goal 1: the three verifiers on W1 and on W1 with a tenth
// of the files.
func benchEngine(ctx context.Context, e *env) (section, error) {
	sec := section{title: "1. Engine: verify a layout and a directory of links (W1)"}
	if e.inTotoGolang == "" {
		return sec, missing("in-toto-golang is not installed (.ci/run installs it: go install github.com/in-toto/in-toto-golang@v0.11.0); it records W1's links")
	}
	big := e.sizes.w1Files
	sizes := []int{big, big / 10}
	type measured struct {
		stats w1Stats
		res   []result
	}
	var ms []measured
	for _, files := range sizes {
		dir, reused, err := cachedDir(e.work, fmt.Sprintf("w1-%d", files), func(dir string) error {
			e.log(fmt.Sprintf("generating W1 with %d files in %s (once; cached for later runs)", files, dir))
			return makeW1(ctx, dir, files, e.inTotoGolang, e.log)
		})
		if err != nil {
			return sec, err
		}
		var st w1Stats
		data, err := os.ReadFile(filepath.Join(dir, "w1.json"))
		if err == nil {
			err = json.Unmarshal(data, &st)
		}
		if err != nil {
			return sec, fmt.Errorf("W1 in %s: %w", dir, err)
		}
		how := "generated"
		if reused {
			how = "reused"
		}
		e.log(fmt.Sprintf("W1 %d files (%s %s): %s artifact entries, %s of links", files, how, dir, commas(int64(st.Entries)), fmtBytes(st.LinkBytes)))
		if e.prepare {
			continue
		}
		if _, _, err := warm(filepath.Join(dir, "links")); err != nil {
			return sec, err
		}
		cs := w1Contenders(dir, e.referee, e.inTotoGolang, e.inTotoVerify)
		res, err := roundRobin(ctx, e.spawn, e.runs, cs, e.log)
		if err != nil {
			return sec, err
		}
		ms = append(ms, measured{st, res})
	}
	if e.prepare {
		sec.notes = []string{"W1 prepared in " + e.work}
		return sec, nil
	}

	sec.notes = []string{
		fmt.Sprintf("W1: 5 steps whose rules use MATCH, CREATE, DELETE, MODIFY, ALLOW, DISALLOW and REQUIRE; links recorded by `in-toto-golang run` (Metablock, ed25519); layout and links in the page cache. Median of %d runs, round-robin; CPU = user + system time; peak RSS from the child's rusage.", e.runs),
	}
	sec.head = []string{"W1", "verifier", "wall (min–max)", "CPU", "peak RSS", "wall vs in-toto-golang", "RSS vs in-toto-golang"}
	names := map[string]string{
		"in-toto-golang": "in-toto-golang v0.11 `verify`",
		"in-toto Python": "in-toto Python 1.3 `in-toto-verify`",
		"referee":        "referee `verify --layout … --link-dir …`",
	}
	for i, m := range ms {
		base := m.res[0]
		label := fmt.Sprintf("%s files, %s entries, %s", commas(int64(sizes[i])), commas(int64(m.stats.Entries)), fmtBytes(m.stats.LinkBytes))
		for _, r := range m.res {
			lo, hi := r.wallRange()
			sec.rows = append(sec.rows, []string{label, names[r.name],
				fmt.Sprintf("%s (%s–%s)", fmtDur(r.medianWall()), fmtDur(lo), fmtDur(hi)),
				fmtDur(r.medianCPU()), fmtMiB(r.medianRSS()),
				fmtX(ratio(r.medianWall(), base.medianWall())), fmtX(ratio(r.medianRSS(), base.medianRSS()))})
			label = ""
		}
	}
	ref := func(m measured) result { return m.res[len(m.res)-1] }
	wallX := ratio(ref(ms[0]).medianWall(), ms[0].res[0].medianWall())
	rssX := ratio(ref(ms[0]).medianRSS(), ms[0].res[0].medianRSS())
	entriesX := float64(ms[0].stats.Entries) / float64(ms[1].stats.Entries)
	linWall := ratio(ref(ms[0]).medianWall(), ref(ms[1]).medianWall())
	linCPU := ratio(ref(ms[0]).medianCPU(), ref(ms[1]).medianCPU())
	linRSS := ratio(ref(ms[0]).medianRSS(), ref(ms[1]).medianRSS())
	sec.goals = []goal{
		{name: "1 engine wall", target: "≤ 0.20x in-toto-golang", measured: fmtX(wallX), met: wallX <= 0.2},
		{name: "1 engine peak RSS", target: "≤ 0.25x in-toto-golang", measured: fmtX(rssX), met: rssX <= 0.25},
		{name: "1 engine linear (wall)", target: fmt.Sprintf("≤ %s for %s the entries", fmtX(entriesX), fmtX(entriesX)),
			measured: fmt.Sprintf("%s (%s vs %s)", fmtX(linWall), fmtDur(ref(ms[0]).medianWall()), fmtDur(ref(ms[1]).medianWall())), met: linWall <= entriesX},
		{name: "1 engine linear (CPU)", target: fmt.Sprintf("≤ %s", fmtX(entriesX)),
			measured: fmt.Sprintf("%s (%s vs %s)", fmtX(linCPU), fmtDur(ref(ms[0]).medianCPU()), fmtDur(ref(ms[1]).medianCPU())), met: linCPU <= entriesX},
		{name: "1 engine linear (peak RSS)", target: fmt.Sprintf("≤ %s", fmtX(entriesX)),
			measured: fmt.Sprintf("%s (%s vs %s)", fmtX(linRSS), fmtMiB(ref(ms[0]).medianRSS()), fmtMiB(ref(ms[1]).medianRSS())), met: linRSS <= entriesX},
	}
	return sec, nil
}

// warm reads every file under dir once, so that the runs measured find
// them in the page cache; it returns what it read.
func warm(dir string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		files++
		bytes += int64(len(data))
		return err
	})
	return files, bytes, err
}
